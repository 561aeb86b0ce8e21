// turn() between IPv6-only peers through our TurnServer on ::1: the relayed family both relays
// share is chosen (family.ts), over TCP and UDP relays, with a secure pipe on top.
import type { AddressInterface, PeerAddress, Strategy, StrategyContext } from '@p2pd/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { answerFamily, offerFamilies, withFamily } from '../src/family.js'
import { TurnServer, type TurnServerOptions, turn } from '../src/index.js'
import { exchange, relayedPair } from './relay-pair.js'

const servers: TurnServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function server(opts: Partial<TurnServerOptions>) {
  const s = new TurnServer({ users: { u: 'p' }, host: '::1', allowLoopbackPeers: true, ...opts })
  servers.push(s)
  const address = await s.start()
  return { s, config: { ...address, username: 'u', password: 'p' } }
}

const iface = (ext: string) => ({ ext }) as unknown as AddressInterface

function peer(ip4: string[], ip6: string[]): PeerAddress {
  return {
    signal: [0],
    ip4: ip4.map(iface),
    ip6: ip6.map(iface),
    nodeId: 'n',
    legacy: false,
    machineId: 'm',
  }
}

/** The strategy as an IPv6-only host runs it, talking to an IPv6-only peer. */
function v6Only(s: Strategy): Strategy {
  const patch = (ctx: StrategyContext): StrategyContext => ({
    ...ctx,
    local: { ...ctx.local, ip4: [], ip6: [iface('2001:db8:1::2')] },
    remote: { ...ctx.remote, ip4: [], ip6: [iface('2001:db8:2::2')] },
  })
  return {
    ...s,
    connect: (ctx, signal) => s.connect(patch(ctx), signal),
    accept: (ctx, inbound, signal) =>
      (s.accept as NonNullable<Strategy['accept']>)(patch(ctx), inbound, signal),
  }
}

describe('relayed family choice', () => {
  it('IPv6 first when either side has IPv6 only; the answerer follows the offer', () => {
    const dual = peer(['198.51.100.1'], ['2001:db8::1'])
    const only6 = peer([], ['2001:db8::2'])
    const only4 = peer(['198.51.100.2'], [])
    expect(offerFamilies(dual, dual)).toEqual([4, 6])
    expect(offerFamilies(dual, only6)).toEqual([6, 4])
    expect(offerFamilies(only6, only4)).toEqual([6, 4])
    expect(answerFamily({ host: '::1', port: 1 })).toBe(6)
    expect(answerFamily({ host: '127.0.0.1', port: 1 })).toBe(4)
  })

  it('servers at addresses we cannot reach go last; IPv4 is asked by saying nothing', () => {
    const servers = [
      { host: '192.0.2.1', username: 'u', password: 'p' },
      { host: 'turn.example', username: 'u', password: 'p' },
      { host: '2001:db8::3', username: 'u', password: 'p' },
    ]
    const init = { servers, client: { timeoutMs: 1 } }
    const v6 = withFamily(init, 6, peer([], ['2001:db8::2']))
    expect(v6.servers.map((s) => s.host)).toEqual(['turn.example', '2001:db8::3', '192.0.2.1'])
    expect(v6.client).toEqual({ timeoutMs: 1, addressFamily: 6 })
    const v4 = withFamily(v6, 4, peer(['198.51.100.2'], ['2001:db8::2']))
    expect(v4.servers).toEqual(v6.servers)
    expect(v4.client).toEqual({ timeoutMs: 1 })
  })
})

describe('turn() between IPv6-only peers, our server on ::1', () => {
  for (const tcp of [true, false]) {
    it(`relays over IPv6 ${tcp ? 'TCP' : 'UDP'} allocations: secure pipe both ways`, async () => {
      // The server can relay in both families: the peers' IPv6-only addresses pick IPv6.
      const { s, config } = await server({ relayHosts: ['127.0.0.1', '::1'] })
      const make = () => v6Only(turn({ servers: [config], tcp }))
      const { pa, pb, rawA, rawB, logA, close } = await relayedPair(make(), make())
      expect(rawA.local.host).toBe('::1')
      expect(rawA.remote).toEqual(rawB.local)
      expect(rawB.remote).toEqual(rawA.local)
      expect(logA.join('\n')).toMatch(tcp ? /relaying over TCP to ::1/ : /relaying to ::1/)
      await exchange(300_000, pa, pb)
      await exchange(100_000, pb, pa)
      expect(tcp ? s.stats.tcpSpliced : s.stats.relayedToPeers).toBeGreaterThan(0)
      await Promise.all([pa.close(), pb.close()])
      await close()
    })
  }

  for (const tcp of [undefined, false]) {
    it(`an IPv6-only relay still serves peers that did not ask (440, then IPv6), ${tcp === false ? 'UDP' : 'TCP'} relays`, async () => {
      const { s, config } = await server({ relayHosts: ['::1'] })
      // No IPv6-only hint: the offerer asks IPv4 first, is refused, and asks IPv6.
      const make = () => turn({ servers: [config], tcp })
      const { pa, pb, rawA, rawB, logA, close } = await relayedPair(make(), make())
      expect(rawA.local.host).toBe('::1')
      expect(rawB.local.host).toBe('::1')
      if (tcp === false) expect(s.stats.tcpSpliced).toBe(0)
      else {
        expect(logA.join('\n')).toMatch(/no IPv4 TCP relay .*; asking IPv6/)
        expect(logA.join('\n')).toMatch(/relaying over TCP to ::1/)
      }
      await exchange(100_000, pa, pb)
      if (tcp !== false) expect(s.stats.tcpSpliced).toBeGreaterThan(0)
      await Promise.all([pa.close(), pb.close()])
      await close()
    })
  }
})
