import { type ChildProcess, spawn } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoopbackInfra, startLoopbackInfra } from '../../cli/test/loopback.js'
import { finished, startCli, waitForLine } from '../../cli/test/spawn.js'

// `p2pd daemon` as a user runs it (its own process, its own config directory, servers on
// loopback), driven by clients in other languages: the Python example and the README's curl
// lines. A missing python3 or curl fails these tests: they are what the README promises.

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))

interface RunningDaemon {
  readonly child: ChildProcess
  readonly url: string
  readonly tokenFile: string
  readonly done: ReturnType<typeof finished>
}

let infra: LoopbackInfra
const started: RunningDaemon[] = []

async function startDaemonProcess(dir: string, extra: string[] = []): Promise<RunningDaemon> {
  const child = startCli(['daemon', '--port', '0', '--listen', ...extra, ...infra.flags], {
    XDG_CONFIG_HOME: `${infra.dir}/${dir}`,
  })
  const done = finished(child)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  // The token line comes first, maybe in the same chunk: wait for the last line, then read both.
  const line = await waitForLine(child, /^daemon: http:\/\//, 40_000).catch(async (err) => {
    throw new Error(`${err.message}\n${(await done).stderr}`)
  })
  const tokenFile = /^token file: (.+)$/m.exec(stderr)?.[1]
  expect(tokenFile, stderr).toBeDefined()
  const d = {
    child,
    done,
    url: (/^daemon: (\S+)/.exec(line) as RegExpExecArray)[1] as string,
    tokenFile: tokenFile as string,
  }
  started.push(d)
  return d
}

async function get(d: RunningDaemon, path: string, token?: string | null) {
  const t = token === undefined ? (await readFile(d.tokenFile, 'utf8')).trim() : token
  return fetch(`${d.url}${path}`, t === null ? {} : { headers: { authorization: `Bearer ${t}` } })
}

/** Runs a program to completion; rejects if it cannot be started (e.g. not installed). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

beforeAll(async () => {
  infra = await startLoopbackInfra()
}, 60_000)

afterAll(async () => {
  for (const d of started) d.child.kill('SIGTERM')
  await Promise.allSettled(started.map((d) => d.done))
  await infra?.close()
}, 60_000)

describe('p2pd daemon (a process) and clients in other languages', () => {
  let a: RunningDaemon
  let b: RunningDaemon

  it('fresh machine: creates the token 0600 beside the key; openapi.json is 200 with it, 401 without', async () => {
    ;[a, b] = await Promise.all([startDaemonProcess('a'), startDaemonProcess('b')])
    expect(a.tokenFile).toBe(`${infra.dir}/a/p2pd/daemon-token`)
    expect((await stat(a.tokenFile)).mode & 0o777).toBe(0o600)
    expect((await readFile(a.tokenFile, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/)
    const ok = await get(a, '/openapi.json')
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { openapi: string }).openapi).toMatch(/^3\./)
    expect((await get(a, '/openapi.json', null)).status).toBe(401)
  }, 90_000)

  it('the Python example (standard library only) connects the two daemons and exchanges data', async () => {
    const py = await run('python3', [
      here('../examples/two_daemons.py'),
      a.url,
      a.tokenFile,
      b.url,
      b.tokenFile,
    ])
    expect(py.code, `${py.stdout}\n${py.stderr}`).toBe(0)
    expect(py.stdout).toMatch(/verified/)
    expect(py.stdout).toMatch(/^ok$/m)
  }, 90_000)

  it("the README's curl block runs against a daemon, with the peer answering", async () => {
    const readme = await readFile(here('../README.md'), 'utf8')
    const block = /## curl[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(block).toBeDefined()
    const tokenB = (await readFile(b.tokenFile, 'utf8')).trim()
    const auth = { authorization: `Bearer ${tokenB}` }
    const peer = ((await (await get(b, '/address')).json()) as { address: string }).address
    // B's program: take the pipe, read "hello", answer "HELLO".
    const answer = (async () => {
      const inc = await fetch(`${b.url}/incoming?timeoutMs=30000`, { headers: auth })
      const { pipe } = (await inc.json()) as { pipe: string }
      let got = ''
      while (got.length < 5) {
        const r = await fetch(`${b.url}/pipes/${pipe}/recv?timeoutMs=10000`, { headers: auth })
        if (r.status === 200) got += await r.text()
        else if (r.status !== 204) throw new Error(`recv ${r.status}`)
      }
      await fetch(`${b.url}/pipes/${pipe}/send`, {
        method: 'POST',
        headers: auth,
        body: got.toUpperCase(),
      })
      return got
    })()
    const sh = await run('bash', ['-euo', 'pipefail', '-c', block as string], {
      P2PD_URL: a.url,
      P2PD_TOKEN_FILE: a.tokenFile,
      PEER: peer,
    })
    expect(sh.code, sh.stderr).toBe(0)
    expect(await answer).toBe('hello')
    expect(sh.stdout).toContain('"api":1')
    expect(sh.stdout).toContain('{"sent":5}')
    expect(sh.stdout).toContain('HELLO')
  }, 90_000)

  it('--token-file chooses the file; SIGTERM stops the daemon cleanly', async () => {
    const file = `${infra.dir}/custom/token`
    const c = await startDaemonProcess('c', ['--token-file', file])
    expect(c.tokenFile).toBe(file)
    expect((await get(c, '/status')).status).toBe(200)
    c.child.kill('SIGTERM')
    const out = await c.done
    expect(out.code, out.stderr).toBe(0)
    expect(out.stderr).toMatch(/daemon stopped/)
  }, 90_000)

  it('usage errors exit 2 before anything starts', async () => {
    const cases = [
      ['--port', 'x'],
      ['--cors', 'not an origin'],
      ['--allow-host', 'evil example'],
      ['--allow', '02'],
      ['stray'],
    ]
    const outs = await Promise.all(
      cases.map((args) => {
        const child = startCli(['daemon', ...args, ...infra.flags], {
          XDG_CONFIG_HOME: `${infra.dir}/u`,
        })
        child.stdin?.end()
        return finished(child)
      }),
    )
    outs.forEach((out, i) => {
      expect(out.code, `${cases[i]?.join(' ')}: ${out.stderr}`).toBe(2)
    })
  }, 60_000)
})
