import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { NatType, TimeoutError } from '@p2pd/interface'
import { underGc } from '@p2pd/testkit/gc'
import { type MuteTcpServer, startMuteTcpServer } from '@p2pd/testkit/mute'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { discoverNat, measureDelta, observeMapping } from '../src/index.js'

describe('NAT discovery deadlines survive garbage collection', () => {
  // Silent servers: a UDP socket that never answers, a TCP server that accepts and never answers.
  let udp: UdpSocket
  let tcp: MuteTcpServer
  beforeAll(async () => {
    udp = createSocket('udp4')
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
    tcp = await startMuteTcpServer()
  })
  afterAll(async () => {
    await tcp?.close()
    await new Promise<void>((resolve) => udp.close(() => resolve()))
  })
  const server = (transport: 'udp' | 'tcp') => ({
    host: '127.0.0.1',
    port: transport === 'udp' ? udp.address().port : tcp.port,
  })

  for (const transport of ['udp', 'tcp'] as const) {
    it(`a ${transport} discovery against a silent server settles as blocked by its deadline`, async () => {
      const r = await underGc(1000, () =>
        discoverNat({
          servers: [server(transport)],
          transport,
          localAddress: '127.0.0.1',
          timeoutMs: 1000,
          signal: new AbortController().signal,
        }),
      )
      expect(r.err).toBeUndefined()
      expect(r.value?.natInfo.type).toBe(NatType.Blocked)
      expect(r.ms).toBeLessThanOrEqual(r.limitMs)
    })

    it(`observing a ${transport} mapping at a silent server times out on time`, async () => {
      const r = await underGc(1000, () =>
        observeMapping({
          server: server(transport),
          transport,
          localAddress: '127.0.0.1',
          timeoutMs: 1000,
          signal: new AbortController().signal,
        }),
      )
      expect(r.err).toBeInstanceOf(TimeoutError)
      expect(r.ms).toBeGreaterThanOrEqual(995)
      expect(r.ms).toBeLessThanOrEqual(r.limitMs)
    })

    it(`a ${transport} delta measurement at a silent server settles by its deadline`, async () => {
      const r = await underGc(1000, () =>
        measureDelta({
          server: server(transport),
          transport,
          localAddress: '127.0.0.1',
          samples: 3,
          rttMs: 200, // per-sample deadlines of 1.6 s: the overall 1 s one must cut them short
          timeoutMs: 1000,
          signal: new AbortController().signal,
        }),
      )
      expect(r.err).toBeUndefined()
      expect(r.value?.observations.every((o) => o === undefined)).toBe(true)
      expect(r.ms).toBeLessThanOrEqual(r.limitMs)
    })
  }
})
