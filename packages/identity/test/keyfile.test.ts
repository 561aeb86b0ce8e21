import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  generateIdentity,
  IdentityError,
  loadIdentity,
  loadOrCreateIdentity,
  saveIdentity,
} from '../src/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2pd-identity-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(IdentityError)
    return (err as IdentityError).code
  }
  throw new Error('expected a rejection')
}

describe('key files', () => {
  it('creates missing parent directories 0700', async () => {
    const parent = join(dir, 'state', 'p2pd')
    const id = await loadOrCreateIdentity(join(parent, 'node.key'))
    expect((await stat(parent)).mode & 0o777).toBe(0o700)
    expect((await stat(join(dir, 'state'))).mode & 0o777).toBe(0o700)
    expect((await loadIdentity(join(parent, 'node.key'))).nodeId).toBe(id.nodeId)
  })

  it('creates the file 0600 and loads it back', async () => {
    const id = generateIdentity()
    const path = join(dir, 'a.key')
    await saveIdentity(id, path)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await loadIdentity(path)).nodeId).toBe(id.nodeId)
    const json = JSON.parse(await readFile(path, 'utf8'))
    expect(json).toMatchObject({ type: 'p2pd-identity', version: 1, nodeId: id.nodeId })
    expect(json.secretKey).toMatch(/^[0-9a-f]{64}$/)
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('refuses a file readable by group or others', async () => {
    const path = join(dir, 'open.key')
    await saveIdentity(generateIdentity(), path)
    await chmod(path, 0o644)
    expect(await codeOf(loadIdentity(path))).toBe('IDENTITY_KEYFILE_PERMISSIONS')
    await chmod(path, 0o640)
    expect(await codeOf(loadIdentity(path))).toBe('IDENTITY_KEYFILE_PERMISSIONS')
    await chmod(path, 0o600)
    await expect(loadIdentity(path)).resolves.toBeDefined()
  })

  it('never overwrites unless asked', async () => {
    const path = join(dir, 'b.key')
    const first = generateIdentity()
    await saveIdentity(first, path)
    expect(await codeOf(saveIdentity(generateIdentity(), path))).toBe('IDENTITY_KEYFILE_EXISTS')
    expect((await loadIdentity(path)).nodeId).toBe(first.nodeId)
    const second = generateIdentity()
    await saveIdentity(second, path, { overwrite: true })
    expect((await loadIdentity(path)).nodeId).toBe(second.nodeId)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('loads a bare hex secret', async () => {
    const path = join(dir, 'raw.key')
    await writeFile(path, `${'11'.repeat(32)}\n`, { mode: 0o600 })
    expect((await loadIdentity(path)).nodeId).toBe(
      '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa',
    )
  })

  it('rejects malformed files with typed errors', async () => {
    const write = async (name: string, text: string) => {
      const path = join(dir, name)
      await writeFile(path, text, { mode: 0o600 })
      return path
    }
    const id = generateIdentity()
    const good = {
      type: 'p2pd-identity',
      version: 1,
      nodeId: id.nodeId,
      secretKey: '11'.repeat(32),
    }
    for (const text of [
      '{not json',
      JSON.stringify({ ...good, type: 'other' }),
      JSON.stringify({ ...good, secretKey: 'zz'.repeat(32) }),
      JSON.stringify({ ...good, secretKey: '00'.repeat(32) }),
      JSON.stringify(good), // nodeId does not match the secret
      'abc',
      'x'.repeat(5000),
    ]) {
      expect(await codeOf(loadIdentity(await write('bad.key', text)))).toBe(
        'IDENTITY_KEYFILE_MALFORMED',
      )
    }
  })

  it('reports a missing file as IO with ENOENT, and loadOrCreate creates it once', async () => {
    const path = join(dir, 'new.key')
    try {
      await loadIdentity(path)
      expect.unreachable()
    } catch (err) {
      expect((err as IdentityError).code).toBe('IDENTITY_KEYFILE_IO')
      expect(((err as IdentityError).cause as NodeJS.ErrnoException).code).toBe('ENOENT')
    }
    const created = await loadOrCreateIdentity(path)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await loadOrCreateIdentity(path)).nodeId).toBe(created.nodeId)
  })

  it('honours an aborted signal', async () => {
    const ac = new AbortController()
    ac.abort()
    await expect(loadIdentity(join(dir, 'a.key'), { signal: ac.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    })
  })
})
