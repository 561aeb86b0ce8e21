import {
  type AddressInterface,
  type Endpoint,
  isOpenNat,
  NatType,
  type PeerAddress,
} from '@p2pd/interface'
import { normalizeIp } from '@p2pd/stun'

/** How two peers relate on the network, from their addresses alone. */
export type Vicinity = 'same-machine' | 'same-lan' | 'remote'

/** Same machine: equal machine IDs. Same LAN: an equal external IP in some family. */
export function vicinity(local: PeerAddress, remote: PeerAddress): Vicinity {
  if (local.machineId === remote.machineId) return 'same-machine'
  for (const family of ['ip4', 'ip6'] as const) {
    const ours = new Set(local[family].map((i) => i.ext))
    if (remote[family].some((i) => ours.has(i.ext))) return 'same-lan'
  }
  return 'remote'
}

const loopback = { ip4: '127.0.0.1', ip6: '::1' } as const

/**
 * Endpoints at which `remote`'s listener can be reached from `local` without any help,
 * best first. A remote peer's private (nic) IP is used only when both share an external IP —
 * never dialled blindly. Order (happy eyeballs, RFC 8305): what is surely reachable first —
 * loopback and LAN addresses, then interfaces measured open (no NAT, inbound unfiltered), then
 * those without NAT whose inbound may be filtered (a firewall: the punch is their path) — and
 * within each rank IPv6 and IPv4 interleaved, IPv6 first.
 */
export function directCandidates(local: PeerAddress, remote: PeerAddress): Endpoint[] {
  const near = vicinity(local, remote)
  const ranked: { endpoint: Endpoint; rank: number; v6: boolean }[] = []
  for (const family of ['ip6', 'ip4'] as const) {
    if (local[family].length === 0) continue
    const add = (ip: string, port: number, rank: number) => {
      // The address format spells IPv6 out in full; dial and report it as sockets show it.
      const host = normalizeIp(ip)
      if (!ranked.some((c) => c.endpoint.host === host && c.endpoint.port === port)) {
        ranked.push({ endpoint: { host, port }, rank, v6: family === 'ip6' })
      }
    }
    const ifaces: readonly AddressInterface[] = remote[family]
    if (near === 'same-machine' && ifaces[0]) add(loopback[family], ifaces[0].port, 0)
    const ourExts = new Set(local[family].map((i) => i.ext))
    for (const i of ifaces) if (ourExts.has(i.ext)) add(i.nic, i.port, 0)
    for (const i of ifaces) {
      if (isOpenNat(i.nat)) add(i.ext, i.port, i.nat.type === NatType.OpenInternet ? 1 : 2)
    }
  }
  const merged: Endpoint[] = []
  for (const rank of [0, 1, 2]) {
    const v6 = ranked.filter((c) => c.rank === rank && c.v6)
    const v4 = ranked.filter((c) => c.rank === rank && !c.v6)
    for (let k = 0; k < Math.max(v6.length, v4.length); k++) {
      if (v6[k]) merged.push((v6[k] as (typeof ranked)[number]).endpoint)
      if (v4[k]) merged.push((v4[k] as (typeof ranked)[number]).endpoint)
    }
  }
  return merged
}

/** True when at least one of our own interfaces accepts unsolicited inbound TCP. */
export function isReachable(address: PeerAddress): boolean {
  return [...address.ip4, ...address.ip6].some((i) => isOpenNat(i.nat))
}

/**
 * True when two remote peers can reach each other only through firewalls: neither has an
 * interface measured open (no NAT, inbound unfiltered) in a family the other has, though one
 * without NAT may be behind a stateful firewall (IPv6 hosts usually are). A direct dial or a
 * dial-back then waits on a firewall that most likely drops or refuses it, and the punch — the
 * way through such firewalls — should not wait out their head starts.
 */
export function firewalledOnly(local: PeerAddress, remote: PeerAddress): boolean {
  if (vicinity(local, remote) !== 'remote') return false
  const opensTo = (from: PeerAddress, to: PeerAddress) =>
    (['ip4', 'ip6'] as const).some(
      (f) => from[f].length > 0 && to[f].some((i) => i.nat.type === NatType.OpenInternet),
    )
  return !opensTo(local, remote) && !opensTo(remote, local)
}
