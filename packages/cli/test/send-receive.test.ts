import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoopbackInfra, startLoopbackInfra } from './loopback.js'
import { finished, startCli, waitForLine } from './spawn.js'

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

describe('p2pd send / receive (two processes, loopback servers)', () => {
  let infra: LoopbackInfra
  beforeAll(async () => {
    infra = await startLoopbackInfra()
  })
  afterAll(() => infra?.close())

  const sender = async (path: string) => {
    const child = startCli(['send', path, ...infra.flags], { XDG_CONFIG_HOME: `${infra.dir}/s` })
    const done = finished(child)
    const address = (await waitForLine(child, /^address: /)).slice('address: '.length)
    return { child, done, address }
  }
  const receiver = (address: string, out: string) =>
    startCli(['receive', address, '--out', out, ...infra.flags], {
      XDG_CONFIG_HOME: `${infra.dir}/r`,
    })

  it('moves a directory of a few MiB, verified, under the same names', async () => {
    const src = join(infra.dir, 'photos')
    await mkdir(join(src, 'nested'), { recursive: true })
    const big = randomBytes(3 * 1024 * 1024 + 17)
    const small = randomBytes(1000)
    await writeFile(join(src, 'big.bin'), big)
    await writeFile(join(src, 'nested', 'small.bin'), small)
    await writeFile(join(src, 'empty'), '')
    const out = join(infra.dir, 'out1')
    await mkdir(out)
    const s = await sender(src)
    const r = await finished(receiver(s.address, out))
    const sent = await s.done
    expect(r.code, r.stderr).toBe(0)
    expect(sent.code, sent.stderr).toBe(0)
    expect(sha(await readFile(join(out, 'photos', 'big.bin')))).toBe(sha(big))
    expect(sha(await readFile(join(out, 'photos', 'nested', 'small.bin')))).toBe(sha(small))
    expect((await readFile(join(out, 'photos', 'empty'))).length).toBe(0)
    expect(r.stdout.trim().split('\n')).toHaveLength(3)
    expect(sent.stderr).toMatch(/sent 3 file\(s\), 3\.0 MiB .* the receiver verified every SHA-256/)
    expect(r.stderr).toMatch(/received 3 file\(s\).*SHA-256 verified/)

    // Receiving again without --force refuses to overwrite; the sender hears why.
    const s2 = await sender(src)
    const r2 = await finished(receiver(s2.address, out))
    expect(r2.code).toBe(1)
    expect(r2.stderr).toMatch(/already exists \(use --force/)
    expect((await s2.done).code).toBe(1)
  }, 50_000)

  it('leaves nothing under the final name when the sender dies mid-file', async () => {
    const src = join(infra.dir, 'huge.bin')
    await writeFile(src, '')
    await truncate(src, 1024 * 1024 * 1024) // sparse: instant to make, ~1 GiB to send
    const out = join(infra.dir, 'out2')
    await mkdir(out)
    const s = await sender(src)
    const rc = receiver(s.address, out)
    const rDone = finished(rc)
    // Kill the sender as soon as the receiver's temporary file exists.
    for (let i = 0; i < 400; i++) {
      if ((await readdir(out)).some((n) => n.includes('.p2pd-partial-'))) break
      await new Promise((r) => setTimeout(r, 25))
    }
    expect((await readdir(out)).some((n) => n.includes('.p2pd-partial-'))).toBe(true)
    s.child.kill('SIGKILL')
    const r = await rDone
    expect(r.code).toBe(1)
    expect(await readdir(out)).toEqual([])
  }, 50_000)
})
