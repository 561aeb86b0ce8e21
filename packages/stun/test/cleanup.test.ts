import { describe, expect, it } from 'vitest'
import { StunServer, StunServerPool, StunTcpClient, StunUdpClient } from '../src/index.js'
import { closeSocket, portOf, rejectionCode, udpSocket } from './helpers.js'

/** Live sockets and timers of this process, by kind. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) {
    if (/UDP|TCP|Timeout/.test(kind)) counts[kind] = (counts[kind] ?? 0) + 1
  }
  return counts
}

describe('resource cleanup', () => {
  it('success, timeout, abort, errors, pools and close() leave no socket or timer behind', async () => {
    const before = handles()
    const server = new StunServer({ rateLimit: false })
    await server.start()
    const silent = await udpSocket()
    const dead = { host: '127.0.0.1', port: portOf(silent) }

    const client = await StunUdpClient.open()
    await client.binding(server.primary)
    await rejectionCode(client.binding(dead, { timeoutMs: 50 }))
    const ac = new AbortController()
    const aborted = client.binding(dead, { signal: ac.signal })
    ac.abort()
    await rejectionCode(aborted)
    await rejectionCode(client.binding(dead, { rtoMs: 5, maxRequests: 2, lastWaitFactor: 1 }))
    const inFlight = client.binding(dead)
    await client.close()
    expect(await rejectionCode(inFlight)).toBe('STUN_CLOSED')

    const conn = await StunTcpClient.connect(server.primary)
    await conn.binding()
    await rejectionCode(conn.binding({ changeRequest: { changeIp: true, changePort: false } }))
    await conn.close()
    expect(await rejectionCode(StunTcpClient.connect(dead, { timeoutMs: 500 }))).toBe('STUN_SOCKET')

    const pool = new StunServerPool([dead, server.primary, server.other])
    await pool.query({ want: 3, perServerTimeoutMs: 100 })
    const kept = await pool.query({ transport: 'tcp', want: 1, keepOpen: true })
    await Promise.all(kept.map((k) => k.connection?.close()))

    await closeSocket(silent)
    await server.close()
    await new Promise((r) => setTimeout(r, 20))
    const after = handles()
    for (const [kind, n] of Object.entries(after)) {
      expect(n, kind).toBeLessThanOrEqual(before[kind] ?? 0)
    }
  })
})
