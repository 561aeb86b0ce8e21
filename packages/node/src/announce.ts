import { decodePeerAddress, encodePeerAddress, MAX_INTERFACES } from '@p2pd/address'
import type { AddressInterface, PeerAddress } from '@p2pd/interface'
import { wildcardHost } from './ipv6.js'
import type { InterfaceInit, NodeHealth, NodeInit } from './node-types.js'
import type { ListenerMapping } from './port-mapping.js'

/** What a node announces when it is given no interfaces: loopback only. */
export const loopbackInterfaces: readonly InterfaceInit[] = [
  { ext: '127.0.0.1', nat: { type: 1, delta: { type: 1, value: 0 } } },
]

/**
 * Bind to what the node announces: a node that announces one loopback address and nothing
 * else (the default local-only node) listens there, not on every interface. Discovered,
 * mixed or port-mapped interfaces need the wildcard, since the LAN address may change.
 */
export function defaultListenHost(init: NodeInit): string {
  const ifaces = init.interfaces ?? loopbackInterfaces
  if (typeof ifaces === 'function' || ifaces.length === 0 || init.portMapping) {
    return wildcardHost() // discovered, or forwarded to by the gateway: the LAN address is needed
  }
  const announced = new Set(ifaces.flatMap((i) => [i.ext, i.nic ?? i.ext]))
  const [only] = announced
  if (announced.size === 1 && only && (only.startsWith('127.') || only === '::1')) return only
  return [...announced].some((ip) => ip.includes(':')) ? '::' : '0.0.0.0'
}

/** Degraded when interface discovery ran and observed nothing: the address has no path. */
export function healthOf(init: NodeInit, interfaces: readonly InterfaceInit[]): NodeHealth {
  const problems: string[] = []
  if (typeof init.interfaces === 'function' && interfaces.length === 0) {
    problems.push('no interface could be observed (no STUN server answered); peers cannot dial in')
  }
  return { status: problems.length ? 'degraded' : 'ok', problems }
}

export interface AnnounceInput {
  readonly interfaces: readonly InterfaceInit[]
  /** The listener's port, announced on every interface. */
  readonly port: number
  /** The signaling backend's offsets (where the node can be reached). */
  readonly signal: readonly number[]
  readonly nodeId: string
  readonly machineId: string
  readonly portMapping?: ListenerMapping
}

/** The peer address a node announces: its text, and the decoded form it acts on. */
export function announce(input: AnnounceInput): { text: string; address: PeerAddress } {
  const toEntry = (i: InterfaceInit, k: number): AddressInterface => ({
    netifaceIndex: i.netifaceIndex ?? k,
    ifIndex: k,
    ext: i.ext,
    nic: i.nic ?? i.ext,
    port: input.port,
    nat: i.nat,
  })
  const v4 = input.interfaces.filter((i) => !i.ext.includes(':'))
  const v6 = input.interfaces.filter((i) => i.ext.includes(':'))
  const ip4 = v4.map(toEntry)
  const mapped = input.portMapping?.entryFor(ip4, MAX_INTERFACES)
  if (mapped) ip4.push(mapped)
  const text = encodePeerAddress({
    signal: [...input.signal],
    ip4,
    ip6: v6.map(toEntry),
    nodeId: input.nodeId,
    legacy: false,
    machineId: input.machineId,
  })
  return { text, address: withTcpFilters(decodePeerAddress(text), input.interfaces) }
}

/**
 * The decoded address with each interface's measured TCP filter put back (the address text
 * cannot carry it; a punch reads it from `ctx.local` and tells the peer).
 */
function withTcpFilters(address: PeerAddress, interfaces: readonly InterfaceInit[]): PeerAddress {
  const tcpOf = (ext: string) => interfaces.find((i) => i.ext === ext)?.nat.tcp
  const fill = (list: readonly AddressInterface[]) =>
    list.map((a) => {
      const tcp = tcpOf(a.ext)
      return tcp ? { ...a, nat: { ...a.nat, tcp } } : a
    })
  return { ...address, ip4: fill(address.ip4), ip6: fill(address.ip6) }
}
