import { TimeoutError } from '@p2pd/interface'
import { underGc } from '@p2pd/testkit/gc'
import { type MuteTcpServer, startMuteTcpServer } from '@p2pd/testkit/mute'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StunServerPool, StunTcpClient, StunUdpClient } from '../src/index.js'
import { closeSocket, portOf, udpSocket } from './helpers.js'

/** Settled with a TimeoutError no sooner than `ms`, and within the bound. */
function expectTimeoutOnTime(r: { err?: unknown; ms: number; limitMs: number }, ms: number): void {
  expect(r.err).toBeInstanceOf(TimeoutError)
  expect(r.ms).toBeGreaterThanOrEqual(ms - 5)
  expect(r.ms).toBeLessThanOrEqual(r.limitMs)
}

describe('STUN deadlines survive garbage collection', () => {
  let tcp: MuteTcpServer

  beforeAll(async () => {
    // Accepts connections and never answers.
    tcp = await startMuteTcpServer()
  })
  afterAll(async () => {
    await tcp?.close()
  })
  const tcpPort = () => tcp.port

  it('a UDP binding to a silent server rejects with a TimeoutError on time', async () => {
    const silent = await udpSocket()
    const client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
    try {
      const r = await underGc(1000, () =>
        client.binding(
          { host: '127.0.0.1', port: portOf(silent) },
          { timeoutMs: 1000, signal: new AbortController().signal },
        ),
      )
      expectTimeoutOnTime(r, 1000)
    } finally {
      await client.close()
      await closeSocket(silent)
    }
  })

  it('a TCP connect + binding to a silent server rejects with a TimeoutError on time', async () => {
    const r = await underGc(1000, async () => {
      const conn = await StunTcpClient.connect(
        { host: '127.0.0.1', port: tcpPort() },
        { timeoutMs: 1000, signal: new AbortController().signal },
      )
      try {
        await conn.binding({ timeoutMs: 1000, signal: new AbortController().signal })
      } finally {
        await conn.close()
      }
    })
    expectTimeoutOnTime(r, 1000)
  })

  it('the pool settles at its overall deadline, before any per-server one (UDP and TCP)', async () => {
    const silent = await udpSocket()
    try {
      for (const transport of ['udp', 'tcp'] as const) {
        const port = transport === 'udp' ? portOf(silent) : tcpPort()
        const pool = new StunServerPool([`127.0.0.1:${port}`])
        const r = await underGc(1000, () =>
          pool.query({
            transport,
            localAddress: '127.0.0.1',
            timeoutMs: 1000,
            perServerTimeoutMs: 5000,
            signal: new AbortController().signal,
          }),
        )
        expectTimeoutOnTime(r, 1000)
      }
    } finally {
      await closeSocket(silent)
    }
  })
})
