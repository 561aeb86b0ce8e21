/**
 * NAT type codes, numbered exactly as P2PD numbers them (they travel in the peer address).
 * `OpenInternet` and `SymmetricUdpFirewall` have no NAT; `Blocked` means no STUN reply at all.
 */
export const NatType = {
  OpenInternet: 1,
  SymmetricUdpFirewall: 2,
  FullCone: 3,
  RestrictedCone: 4,
  PortRestrictedCone: 5,
  Symmetric: 6,
  Blocked: 7,
} as const
export type NatType = (typeof NatType)[keyof typeof NatType]

/**
 * How a NAT picks the external port of the next mapping, numbered exactly as P2PD does.
 * - `NotApplicable`: no NAT (open, or a LAN peer).
 * - `Equal`: external port = local port.
 * - `Preserving`: the distance between local ports is kept between mapped ports.
 * - `Independent`: each new mapping is the last one + delta, whatever the local port.
 * - `Dependent`: local port + k maps to last mapped + k.
 * - `Random`: unpredictable.
 */
export const DeltaType = {
  NotApplicable: 1,
  Equal: 2,
  Preserving: 3,
  Independent: 4,
  Dependent: 5,
  Random: 6,
} as const
export type DeltaType = (typeof DeltaType)[keyof typeof DeltaType]

/** A port delta: its kind and (for `Independent`/`Dependent`) the signed step between mappings. */
export interface Delta {
  readonly type: DeltaType
  /** Signed port distance; 0 where it does not apply. |value| ≤ 65535. */
  readonly value: number
}

/** What the peer address says about one interface's NAT. */
export interface NatInfo {
  readonly type: NatType
  readonly delta: Delta
  /** External port allocation range, when known (P2PD assumes [1, 65535]). */
  readonly range?: readonly [number, number]
  /**
   * Our own NAT's TCP filter, when it was measured (local knowledge: the address text never
   * carries it; a punch sends it to the peer in its offer or answer).
   */
  readonly tcp?: TcpFilter
}

/**
 * A NAT's TCP filter as measured: RFC 4787 filtering (`EIF` accepts any unsolicited SYN on a
 * mapping; `ADF` from the IPs it sent to; `APDF` from the exact endpoints) and what it does
 * with a SYN it refuses (`drop` it, or answer `rst`).
 */
export interface TcpFilter {
  readonly filtering: 'EIF' | 'ADF' | 'APDF' | 'unknown'
  readonly synPolicy: 'drop' | 'rst' | 'unknown'
}

/** True for the codes that mean "no NAT" (P2PD's `is_open`). */
export function isOpenNat(nat: NatInfo): boolean {
  return nat.type === NatType.OpenInternet || nat.type === NatType.SymmetricUdpFirewall
}

/** True when the NAT keeps one mapping per local endpoint, so its port can be predicted. */
export function isEndpointIndependent(nat: NatInfo): boolean {
  return (
    nat.type === NatType.OpenInternet ||
    nat.type === NatType.FullCone ||
    nat.type === NatType.RestrictedCone ||
    nat.type === NatType.PortRestrictedCone
  )
}

/** True for a symmetric NAT whose next mapping cannot be predicted. */
export function isUnpredictableNat(nat: NatInfo): boolean {
  return nat.type === NatType.Symmetric && nat.delta.type === DeltaType.Random
}

/** Display names, for logs and reports. */
export const natTypeName: Readonly<Record<NatType, string>> = {
  1: 'open internet',
  2: 'firewall (no NAT)',
  3: 'full cone',
  4: 'restricted cone',
  5: 'port-restricted cone',
  6: 'symmetric',
  7: 'blocked',
}

export const deltaTypeName: Readonly<Record<DeltaType, string>> = {
  1: 'not applicable',
  2: 'equal',
  3: 'preserving',
  4: 'independent',
  5: 'dependent',
  6: 'random',
}
