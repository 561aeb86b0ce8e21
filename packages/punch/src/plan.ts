import { isIP } from 'node:net'
import {
  type AddressInterface,
  DeltaType,
  type Endpoint,
  NatType,
  type PeerAddress,
} from '@p2pd/interface'
import { isSequentialSymmetric } from './predict.js'
import type { Acceptor, NatRecord, PunchMode } from './protocol/messages.js'

/** The interfaces both sides punch over, and their IP family. */
export interface InterfacePair {
  readonly family: 4 | 6
  readonly mine: AddressInterface
  readonly theirs: AddressInterface
}

/**
 * How much a punch between two NATs asks for, cheapest first: `0` one side accepts
 * unsolicited SYNs (it listens, the other dials), `1` a plain simultaneous open (cones, or
 * firewalls without translation — the normal IPv6 home router), `2` port prediction or a
 * birthday spray (a symmetric side), `3` not punchable (see {@link punchVerdict}).
 */
export function punchCost(a: NatRecord, b: NatRecord): 0 | 1 | 2 | 3 {
  if (punchVerdict(a, b) !== true) return 3
  if (acceptsUnsolicited(a) || acceptsUnsolicited(b)) return 0
  if (a.type === NatType.Symmetric || b.type === NatType.Symmetric) return 2
  return 1
}

const firstPair = (local: PeerAddress, remote: PeerAddress, family: 4 | 6) => {
  const mine = family === 4 ? local.ip4[0] : local.ip6[0]
  const theirs = family === 4 ? remote.ip4[0] : remote.ip6[0]
  return mine && theirs ? { family, mine, theirs } : undefined
}

/** Both NIC addresses private behind one external IP: the peers share a NAT (a LAN). */
const isLanPair = (p: InterfacePair) =>
  p.mine.ext === p.theirs.ext && isPrivateIp(p.mine.nic) && isPrivateIp(p.theirs.nic)

/**
 * The family both sides punch over (each side computes it from the two addresses alone, so
 * they agree). With one family in common, that one. With both:
 * - same machine: IPv4 (loopback);
 * - a shared NAT in one family (a LAN): that family, dialled on the LAN addresses;
 * - else the pair whose NATs punch more simply ({@link punchCost}) — IPv6 firewalls against an
 *   IPv4 pair that needs prediction or cannot punch at all (random × random) — and on a tie
 *   IPv6: it has no translation, so the held port is the announced one, with no mapping to
 *   predict or to time out, and the peers prefer it as P2PD does.
 *
 * `family` forces one (the answerer follows the family of the offer's mappings, so a peer that
 * chooses differently still gets a consistent punch); `undefined` when it is not in common.
 */
export function interfacePair(
  local: PeerAddress,
  remote: PeerAddress,
  family?: 4 | 6,
): InterfacePair | undefined {
  if (family) return firstPair(local, remote, family)
  const v4 = firstPair(local, remote, 4)
  const v6 = firstPair(local, remote, 6)
  if (!v4 || !v6) return v4 ?? v6
  if (local.machineId === remote.machineId || isLanPair(v4)) return v4
  if (isLanPair(v6)) return v6
  const cost4 = punchCost(v4.mine.nat, v4.theirs.nat)
  const cost6 = punchCost(v6.mine.nat, v6.theirs.nat)
  return cost6 <= cost4 ? v6 : v4
}

/** The IP family of an offer's mappings (all of one pair: the family the offerer chose). */
export function offerFamily(offer: { readonly mappings: readonly Endpoint[] }): 4 | 6 | undefined {
  const family = isIP(offer.mappings[0]?.host ?? '')
  return family === 4 || family === 6 ? family : undefined
}

const PRIVATE_V4 =
  /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.|169\.254\.)/

/** True for addresses that only make sense inside a LAN (RFC 1918, CGNAT, link-local, ULA). */
export function isPrivateIp(ip: string): boolean {
  if (isIP(ip) === 4) return PRIVATE_V4.test(ip)
  const v6 = ip.toLowerCase()
  return v6.startsWith('fc') || v6.startsWith('fd') || v6.startsWith('fe80:')
}

/**
 * How the peers see each other. `self`: equal machine IDs (punch over loopback). `lan`: the
 * same external IP *and* both NIC addresses private — a shared external IP alone (CGNAT) is not
 * proof of a shared LAN, and a public NIC address is never dialled as a LAN path. Else `remote`.
 * Judged on `pair` (default: {@link interfacePair}'s choice).
 */
export function punchMode(
  local: PeerAddress,
  remote: PeerAddress,
  pair: InterfacePair | undefined = interfacePair(local, remote),
): PunchMode {
  if (local.machineId === remote.machineId) return 'self'
  return pair && isLanPair(pair) ? 'lan' : 'remote'
}

/** The NAT record a mode implies: no NAT between LAN or same-machine peers. */
export function effectiveNat(mode: PunchMode, nat: NatRecord): NatRecord {
  if (mode !== 'remote')
    return { type: NatType.OpenInternet, delta: { type: DeltaType.NotApplicable, value: 0 } }
  const record = {
    type: nat.type,
    delta: { type: nat.delta.type, value: nat.delta.value },
    ...(nat.tcp ? { tcp: { filtering: nat.tcp.filtering, synPolicy: nat.tcp.synPolicy } } : {}),
  }
  return nat.range ? { ...record, range: [nat.range[0], nat.range[1]] } : record
}

/** Accepts any unsolicited inbound SYN on its mapping: no NAT, or a full cone. */
export const acceptsUnsolicited = (nat: NatRecord) =>
  nat.type === NatType.OpenInternet || nat.type === NatType.FullCone

/** Symmetric NAT whose next port cannot be predicted. */
export const isRandomSymmetric = (nat: NatRecord) =>
  nat.type === NatType.Symmetric && !isSequentialSymmetric(nat)

/**
 * True when we are a restricted cone (EIM, address-dependent filtering) facing a random
 * symmetric NAT: one SYN from each held port to the peer's *IP* (any port) opens our filter to
 * every port of that IP, so we listen on the held ports and the random side dials them — a
 * genuine connect, whatever new random port its NAT picks. No spraying needed.
 */
export const opensFilterFor = (self: NatRecord, peer: NatRecord) =>
  self.type === NatType.RestrictedCone && isRandomSymmetric(peer)

/**
 * Our part in a birthday spray, if the pair needs one: a random symmetric NAT against a
 * port-restricted cone (EIM, address-and-port-dependent filtering). `hard`: we are the random
 * side and open many mappings; `easy`: we are the cone and probe the random NAT's range.
 */
export function sprayRole(self: NatRecord, peer: NatRecord): 'hard' | 'easy' | undefined {
  if (isRandomSymmetric(self) && peer.type === NatType.PortRestrictedCone) return 'hard'
  if (self.type === NatType.PortRestrictedCone && isRandomSymmetric(peer)) return 'easy'
  return undefined
}

/**
 * Whether a punch between these NATs can work, or why not (the fast verdict `canTry` gives).
 * An endpoint-independent-filtering side (open, full cone) simply accepts, so anything pairs
 * with it. A random symmetric NAT pairs with a restricted cone (it opens its filter to the
 * random side's IP and listens) and with a port-restricted cone (birthday spray, when
 * `sprayFeasible` says the budget reaches its floor). Otherwise both sides must be predictable
 * and at most one symmetric.
 */
export function punchVerdict(
  a: NatRecord,
  b: NatRecord,
  sprayFeasible: (random: NatRecord) => true | string = () => true,
): true | string {
  if (a.type === NatType.Blocked || b.type === NatType.Blocked) return 'a NAT blocks traffic'
  if (acceptsUnsolicited(a) || acceptsUnsolicited(b)) return true
  if (isRandomSymmetric(a) && isRandomSymmetric(b)) {
    return 'not punchable: both NATs are symmetric with random ports'
  }
  if (opensFilterFor(a, b) || opensFilterFor(b, a)) return true
  const spray = sprayRole(a, b)
  if (spray) return sprayFeasible(spray === 'hard' ? a : b)
  if (isRandomSymmetric(a) || isRandomSymmetric(b)) {
    return 'not punchable: a symmetric-random NAT against a symmetric NAT'
  }
  // Left: at most one symmetric side, or two sequential ones — each predicts its own next
  // mappings and announces them, the other aims there (see `dialPairs`).
  return true
}

/**
 * Who listens instead of dialling. A side that accepts unsolicited SYNs (and every side on a
 * LAN or one machine) listens on its held port and the other dials it: a genuine connect, no
 * timing needed, and retries on the dialling side cost nothing (lab finding: let the EIF side
 * accept rather than dial). If both could, the answerer listens. A restricted cone facing a
 * random NAT listens too, once it has opened its filter to that NAT's IP. Else: simultaneous
 * open.
 */
export function chooseAcceptor(mode: PunchMode, offerer: NatRecord, answerer: NatRecord): Acceptor {
  if (mode !== 'remote') return 'answerer'
  if (acceptsUnsolicited(answerer)) return 'answerer'
  if (acceptsUnsolicited(offerer)) return 'offerer'
  if (opensFilterFor(answerer, offerer)) return 'answerer'
  if (opensFilterFor(offerer, answerer)) return 'offerer'
  return 'none'
}

/** What one side announced: where to dial it, its NAT and its predicted ports. */
export interface SideInfo {
  readonly nat: NatRecord
  readonly mappings: readonly Endpoint[]
  readonly candidatePorts: readonly number[]
}

/** Our own side: the same, plus the local port behind each mapping. */
export interface LocalSide extends SideInfo {
  readonly locals: readonly number[]
}

/** One local port dialling one remote endpoint, with its place in the schedule. */
export interface DialPair {
  readonly localPort: number
  readonly remote: Endpoint
  /** Index both sides agree on (pair i ↔ pair i); paces the stagger. */
  readonly index: number
  /** Attempts this pair may make (each one costs a predicted port on a sequential NAT). */
  readonly maxAttempts: number
  /** Extra start delay after the pair's stagger offset, ms (see `vernierShifts`). */
  readonly shiftMs?: number
}

/**
 * Extra spacing between two sequential sides' pairs, on both sides alike (ms). A side that
 * reads the plan late fires its overdue pairs at once, and those miss; the wider the pairs are
 * spread, the fewer fall behind (lab, 5 ms per uplink: both failures of 10 were an offerer that
 * planned 75 ms after the instant, with the 8 pairs spread over ~100 ms).
 */
export const SWEEP_SPACING_MS = 30

/**
 * Start shifts of two sequential sides' one-shot pairs, so that pair i meets at a relative
 * offset `i·s − U` (s = 2U/(n−1)): across the n pairs the offsets sweep the clocks' whole
 * disagreement ±U. Each side has one SYN per predicted port, so a clock error larger than the
 * path's one-way delay made every pair miss (lab, 5 ms per uplink: 6/10). The side whose first
 * mapping sorts lower (`lead`) shifts pair i by i·s, the other waits U; both add
 * i·`SWEEP_SPACING_MS` and keep their pairs in index order, so each SYN still takes that
 * side's i-th predicted port.
 */
export function vernierShifts(
  n: number,
  uncertaintyMs: number,
  lead: boolean,
  spacingMs: number = SWEEP_SPACING_MS,
): number[] {
  const u = Math.max(0, uncertaintyMs)
  const step = n > 1 ? (2 * u) / (n - 1) : 0
  const q = Math.max(0, spacingMs)
  return Array.from({ length: Math.max(0, n) }, (_, i) => Math.round((lead ? i * step : u) + i * q))
}

const endpointKey = (e: Endpoint) => `${e.host}|${String(e.port).padStart(5, '0')}`

/**
 * The pairs this side dials.
 * - Both sides sequential-symmetric: pair i goes from our held port to the peer's i-th
 *   predicted port, one attempt each, fired in index order on both sides (the stagger, each
 *   pair shifted to sweep the clocks' disagreement `uncertaintyMs`: `vernierShifts`). Each
 *   pair's SYN is our NAT's next new flow, so it leaves from *our* i-th predicted port — the one
 *   the peer's pair i aims at. A retry would spend a port neither side aims at (after a RST
 *   the NAT maps a new flow) and shift the order of the pairs still to fire, so there is none;
 *   a SYN dropped by the peer's NAT waits in SYN_SENT for the peer's SYN instead.
 * - Against a sequential-symmetric peer: from our first held port to each of its predicted
 *   ports (the peer's k-th attempt arrives from its k-th predicted port).
 * - When we are the sequential side: one pair to the peer's first mapping, at most as many
 *   attempts as we announced predicted ports.
 * - Otherwise: pair i ↔ the peer's mapping i.
 */
export function dialPairs(
  self: LocalSide,
  peer: SideInfo,
  unlimited: number,
  uncertaintyMs = 0,
): DialPair[] {
  const first = self.locals[0]
  const peerFirst = peer.mappings[0]
  if (first === undefined || !peerFirst) return []
  if (peer.candidatePorts.length > 0 && self.candidatePorts.length > 0) {
    const n = Math.min(peer.candidatePorts.length, self.candidatePorts.length)
    const mine = self.mappings[0]
    const lead = mine !== undefined && endpointKey(mine) < endpointKey(peerFirst)
    const shifts = vernierShifts(n, uncertaintyMs, lead)
    return peer.candidatePorts.slice(0, n).map((port, index) => {
      const shiftMs = shifts[index] ?? 0
      return {
        localPort: first,
        remote: { host: peerFirst.host, port },
        index,
        maxAttempts: 1,
        ...(shiftMs > 0 ? { shiftMs } : {}),
      }
    })
  }
  if (peer.candidatePorts.length > 0) {
    return peer.candidatePorts.map((port, index) => ({
      localPort: first,
      remote: { host: peerFirst.host, port },
      index,
      maxAttempts: unlimited,
    }))
  }
  if (self.candidatePorts.length > 0) {
    const maxAttempts = self.candidatePorts.length
    return [{ localPort: first, remote: peerFirst, index: 0, maxAttempts }]
  }
  return samePairs(self, peer, unlimited)
}

/** Pair i ↔ the peer's mapping i (both sides agree on the index). */
export function samePairs(self: LocalSide, peer: SideInfo, maxAttempts: number): DialPair[] {
  const n = Math.min(self.locals.length, peer.mappings.length)
  return Array.from({ length: n }, (_, i) => ({
    localPort: self.locals[i] as number,
    remote: peer.mappings[i] as Endpoint,
    index: i,
    maxAttempts,
  }))
}
