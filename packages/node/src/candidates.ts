import { type AddressInterface, type Endpoint, isOpenNat, type PeerAddress } from '@p2pd/interface'

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
 * best first, IPv6 and IPv4 interleaved (happy eyeballs). A remote peer's private (nic) IP is
 * used only when both share an external IP — never dialled blindly.
 */
export function directCandidates(local: PeerAddress, remote: PeerAddress): Endpoint[] {
  const near = vicinity(local, remote)
  const perFamily = (['ip6', 'ip4'] as const).map((family) => {
    if (local[family].length === 0) return []
    const out: Endpoint[] = []
    const add = (host: string, port: number) => {
      if (!out.some((e) => e.host === host && e.port === port)) out.push({ host, port })
    }
    const ifaces: readonly AddressInterface[] = remote[family]
    if (near === 'same-machine' && ifaces[0]) add(loopback[family], ifaces[0].port)
    const ourExts = new Set(local[family].map((i) => i.ext))
    for (const i of ifaces) if (ourExts.has(i.ext)) add(i.nic, i.port)
    for (const i of ifaces) if (isOpenNat(i.nat)) add(i.ext, i.port)
    return out
  })
  const [v6, v4] = perFamily as [Endpoint[], Endpoint[]]
  const merged: Endpoint[] = []
  for (let k = 0; k < Math.max(v6.length, v4.length); k++) {
    if (v6[k]) merged.push(v6[k] as Endpoint)
    if (v4[k]) merged.push(v4[k] as Endpoint)
  }
  return merged
}

/** True when at least one of our own interfaces accepts unsolicited inbound TCP. */
export function isReachable(address: PeerAddress): boolean {
  return [...address.ip4, ...address.ip6].some((i) => isOpenNat(i.nat))
}
