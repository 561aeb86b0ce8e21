// Peer addresses for pipeline and candidate tests: one interface per family entry, NAT records
// as discovery reports them, node and machine IDs derived from a one-letter machine name.
import { type AddressInterface, type NatInfo, NatType, type PeerAddress } from '@p2pd/interface'

export const open: NatInfo = { type: NatType.OpenInternet, delta: { type: 1, value: 0 } }
/** What discovery reports for a host without NAT behind a stateful firewall (IPv6 at home). */
export const firewall: NatInfo = {
  type: NatType.SymmetricUdpFirewall,
  delta: { type: 1, value: 0 },
}
export const cone: NatInfo = { type: NatType.PortRestrictedCone, delta: { type: 2, value: 0 } }

/** An interface whose external address is `ext` (its NIC address too unless `nic` is given). */
export const iface = (ext: string, nat: NatInfo, nic = ext): AddressInterface => ({
  netifaceIndex: 0,
  ifIndex: 0,
  ext,
  nic,
  port: 4000,
  nat,
})

/** A peer on machine `machine` (a distinct name gives a distinct node and machine ID). */
export const peer = (
  machine: string,
  ip4: AddressInterface[],
  ip6: AddressInterface[],
): PeerAddress =>
  ({
    signal: [0],
    ip4,
    ip6,
    nodeId: `02${machine.repeat(64).slice(0, 64)}`,
    legacy: false,
    machineId: machine.repeat(64).slice(0, 64),
  }) as PeerAddress
