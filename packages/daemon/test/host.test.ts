import { randomBytes } from 'node:crypto'
import type { AedesBroker } from '@p2pd/testkit/aedes'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDaemon } from '../src/index.js'
import { type Served, startBroker, startServed } from './harness.js'
import { getRequest, rawExchange } from './raw-http.js'

// DNS rebinding: a page whose name points at 127.0.0.1 sends its own name as Host (and, being
// same-origin, no Origin). Real daemon, raw HTTP (fetch would not let us choose the Host).

let broker: AedesBroker
let a: Served

beforeAll(async () => {
  broker = await startBroker()
  a = await startServed(broker, { cors: ['http://app.example'], allowedHosts: ['p2pd.internal'] })
})

afterAll(async () => {
  await a?.stop()
  await broker?.close()
})

const errorCode = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code

describe('Host header (DNS rebinding)', () => {
  it('answers to its own names; any other Host is 421 HOST_FORBIDDEN, before the token is looked at', async () => {
    const port = a.daemon.port
    const auth = `authorization: Bearer ${a.token}`
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      'localhost',
      `[::1]:${port}`,
      `p2pd.internal:${port}`,
    ]) {
      const ok = await rawExchange(port, getRequest('/status', [`host: ${host}`, auth]))
      expect(ok.status, `${host}: ${ok.head}`).toBe(200)
    }
    for (const host of [
      `evil.example:${port}`,
      'evil.example',
      `localhost:${port + 1}`,
      `localhost.evil.example:${port}`,
      `127.0.0.2:${port}`,
      `user@localhost:${port}`,
    ]) {
      for (const lines of [[auth], []]) {
        const got = await rawExchange(port, getRequest('/status', [`host: ${host}`, ...lines]))
        expect(got.status, `${host}: ${got.head}`).toBe(421)
        expect(got.head).toMatch(/content-type: application\/json/i)
        expect(errorCode(got.body)).toBe('HOST_FORBIDDEN')
        expect(got.head).not.toMatch(/access-control-allow/i)
      }
    }
    // fetch sends Host: localhost:<port> like a browser on http://localhost:<port> would.
    const viaName = await fetch(`http://localhost:${port}/status`, {
      headers: { authorization: `Bearer ${a.token}` },
    })
    expect(viaName.status).toBe(200)
  })

  it('a preflight with a foreign Host gets 421 and no CORS headers, even from a configured origin', async () => {
    const port = a.daemon.port
    const preflight = (host: string) =>
      rawExchange(
        port,
        `OPTIONS /connect HTTP/1.1\r\nhost: ${host}\r\norigin: http://app.example\r\n` +
          'access-control-request-method: POST\r\nconnection: close\r\n\r\n',
      )
    const foreign = await preflight(`evil.example:${port}`)
    expect(foreign.status).toBe(421)
    expect(foreign.head).not.toMatch(/access-control-allow/i)
    const own = await preflight(`127.0.0.1:${port}`)
    expect(own.status).toBe(204)
    expect(own.head).toMatch(/access-control-allow-origin: http:\/\/app\.example/i)
  })

  it('a WebSocket upgrade needs an own Host and an allowed Origin (or none)', async () => {
    const port = a.daemon.port
    const upgrade = (host: string, extra: string[] = []) =>
      rawExchange(
        port,
        getRequest(`/pipes/0123456789abcdef/ws?token=${a.token}`, [
          `host: ${host}`,
          'upgrade: websocket',
          'connection: Upgrade',
          `sec-websocket-key: ${randomBytes(16).toString('base64')}`,
          'sec-websocket-version: 13',
          ...extra,
        ]),
      )
    const foreign = await upgrade(`evil.example:${port}`)
    expect(foreign.status).toBe(421)
    expect(errorCode(foreign.body)).toBe('HOST_FORBIDDEN')
    const evilOrigin = await upgrade(`127.0.0.1:${port}`, ['origin: http://evil.example'])
    expect(evilOrigin.status).toBe(403)
    const nullOrigin = await upgrade(`127.0.0.1:${port}`, ['origin: null'])
    expect(nullOrigin.status).toBe(403)
    // Past both checks: the pipe does not exist.
    const own = await upgrade(`localhost:${port}`)
    expect(own.status).toBe(404)
    const configured = await upgrade(`127.0.0.1:${port}`, ['origin: http://app.example'])
    expect(configured.status).toBe(404)
  })

  it('HTTP/1.0 without Host (no browser sends that) is served', async () => {
    const got = await rawExchange(
      a.daemon.port,
      getRequest('/status', [`authorization: Bearer ${a.token}`], '1.0'),
    )
    expect(got.status, got.head).toBe(200)
  })

  it('refuses to start with a configured name that is not a host name', async () => {
    const started = startDaemon({ node: a.node, token: a.token, port: 0, allowedHosts: ['a b'] })
    await expect(started).rejects.toMatchObject({ code: 'DAEMON_HOSTS' })
  })
})
