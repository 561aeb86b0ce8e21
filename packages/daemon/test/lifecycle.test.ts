import { once } from 'node:events'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemorySignalingHub } from '@p2pd/interface'
import { createNode, type P2pdNode } from '@p2pd/node'
import { underGc } from '@p2pd/testkit/gc'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { DaemonError, loadOrCreateToken, startDaemon } from '../src/index.js'

// Deadlines, shutdown and the token file. Nodes signal in memory here: what is tested is the
// daemon's own waiting, not the network.

const TOKEN = 'lifecycle-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }
const hub = new MemorySignalingHub()
let node: P2pdNode
let peer: P2pdNode
const unhandled: unknown[] = []
const onUnhandled = (err: unknown) => unhandled.push(err)

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled)
  node = createNode({ signaling: (id) => hub.connect(id.nodeId) })
  peer = createNode({ signaling: (id) => hub.connect(id.nodeId) })
  await Promise.all([node.start(), peer.start()])
})

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  await Promise.allSettled([node?.stop(), peer?.stop()])
})

afterEach(() => {
  expect(unhandled).toEqual([])
})

describe('deadlines', () => {
  it('a long-poll answers 204 on time through full garbage collections', async () => {
    const daemon = await startDaemon({ node, token: TOKEN, port: 0 })
    try {
      const t = await underGc(800, async () => {
        const r = await fetch(`${daemon.url}/incoming?timeoutMs=800`, { headers: auth })
        return r.status
      })
      expect(t.value).toBe(204)
      expect(t.ms).toBeGreaterThanOrEqual(750)
      expect(t.ms).toBeLessThan(t.limitMs + 1_000) // + one HTTP round trip on a loaded machine
    } finally {
      await daemon.close()
    }
  })

  it('closing the daemon ends pending long-polls, WebSockets and pipes at once', async () => {
    const daemon = await startDaemon({ node, token: TOKEN, port: 0, incoming: true })
    const connected = await fetch(`${daemon.url}/connect`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ address: peer.addressText }),
    })
    const { pipe } = (await connected.json()) as { pipe: string }
    const accepted = await peer.accept()
    accepted.on('error', () => {})
    const poll = fetch(`${daemon.url}/pipes/${pipe}/recv?timeoutMs=60000`, { headers: auth }).then(
      (r) => r.status,
      () => 'dropped',
    )
    const poll2 = fetch(`${daemon.url}/incoming?timeoutMs=60000`, { headers: auth }).then(
      (r) => r.status,
      () => 'dropped',
    )
    await new Promise((r) => setTimeout(r, 200))
    const t0 = performance.now()
    await daemon.close()
    expect(performance.now() - t0).toBeLessThan(6_000)
    for (const p of [poll, poll2]) expect([204, 'dropped']).toContain(await p)
    // The peer sees its pipe end.
    accepted.resume()
    if (!accepted.readableEnded && !accepted.destroyed) {
      await Promise.race([once(accepted, 'end'), once(accepted, 'close')])
    }
    await daemon.close() // idempotent
    await expect(fetch(`${daemon.url}/status`, { headers: auth })).rejects.toThrow()
  }, 30_000)

  it('a WebSocket gets 1001 when the daemon stops; the signal option stops it too', async () => {
    const ac = new AbortController()
    const daemon = await startDaemon({ node, token: TOKEN, port: 0, signal: ac.signal })
    const r = await fetch(`${daemon.url}/connect`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ address: peer.addressText }),
    })
    const { pipe } = (await r.json()) as { pipe: string }
    ;(await peer.accept()).on('error', () => {})
    const ws = new WebSocket(`${daemon.url.replace('http', 'ws')}/pipes/${pipe}/ws`, {
      headers: auth,
    })
    await once(ws, 'open')
    const closed = once(ws, 'close')
    ac.abort()
    const [code] = await closed
    expect(code).toBe(1001)
    await daemon.close()
  }, 30_000)

  it('refuses to start with a short token or on a node that has not started', async () => {
    await expect(startDaemon({ node, token: 'short', port: 0 })).rejects.toBeInstanceOf(DaemonError)
    const idle = createNode({ signaling: (id) => hub.connect(id.nodeId) })
    await expect(startDaemon({ node: idle, token: TOKEN, port: 0 })).rejects.toMatchObject({
      code: 'NODE_NOT_STARTED',
    })
  })

  it('a port in use is a typed DAEMON_LISTEN error', async () => {
    const first = await startDaemon({ node, token: TOKEN, port: 0 })
    try {
      await expect(startDaemon({ node, token: TOKEN, port: first.port })).rejects.toMatchObject({
        code: 'DAEMON_LISTEN',
      })
    } finally {
      await first.close()
    }
  })
})

describe('token file', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2pd-daemon-token-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('created on first use: 64 hex characters, mode 0600, in a 0700 directory; then reused', async () => {
    const path = join(dir, 'new', 'daemon-token')
    const token = await loadOrCreateToken(path)
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'new'))).mode & 0o777).toBe(0o700)
    expect(await loadOrCreateToken(path)).toBe(token)
    expect((await readFile(path, 'utf8')).trim()).toBe(token)
  })

  it('refuses a file others may read, and one without a token', async () => {
    const open = join(dir, 'open')
    await writeFile(open, 'a'.repeat(64), { mode: 0o644 })
    await expect(loadOrCreateToken(open)).rejects.toMatchObject({ code: 'DAEMON_TOKEN_FILE' })
    for (const bad of ['', 'short', 'has space in it 0123456789']) {
      const p = join(dir, `bad-${bad.length}`)
      await writeFile(p, bad, { mode: 0o600 })
      await expect(loadOrCreateToken(p)).rejects.toMatchObject({ code: 'DAEMON_TOKEN_FILE' })
    }
  })
})
