import {
  DeltaType,
  type Endpoint,
  isEndpointIndependent,
  isOpenNat,
  isUnpredictableNat,
  type NatInfo,
  NatType,
} from '@p2pd/interface'
import { type SprayBudget, type SprayPlan, sprayPlan } from './birthday.js'
import { portDistance, wrapPort } from './port-math.js'

/** A socket whose public mapping was just observed (see `observeMapping`). */
export interface ObservedPort {
  readonly local: Endpoint
  readonly mapped: Endpoint
}

export interface PredictOptions {
  /** Our NAT record (the delta is what we measured). */
  readonly ours: NatInfo
  /** The peer's NAT record, from its peer address. */
  readonly theirs: NatInfo
  /** A socket of ours whose mapping was observed just now (kept alive: TCP STUN connection). */
  readonly observed: ObservedPort
  /** Candidates wanted (default 4; EIM and open NATs need one). */
  readonly count?: number
  /**
   * New mappings already spent since `observed` (0-based attempt number): every retry that
   * opens a new connection moves a sequential NAT on by one step (every sequential NAT in the
   * lab does).
   */
  readonly attempt?: number
  /**
   * Sequential models: expected number of *foreign* allocations (other hosts, other apps) per
   * new mapping of ours (default 0.1). Re-probing right before the punch keeps it small.
   */
  readonly noise?: number
  /** Random NATs: the birthday-spray budget. */
  readonly spray?: SprayBudget
}

/** How our next public port is predicted. */
export type PredictionModel =
  | 'open'
  | 'reuse'
  | 'equal'
  | 'preserving'
  | 'sequential'
  | 'dependent'
  | 'spray'

/** One local socket to open, in rank order, and the public port it should get. */
export interface PortCandidate {
  readonly rank: number
  /** Port to bind (0 = any free port). */
  readonly localPort: number
  /** Bind the observed socket's own local port (UDP: use that socket; TCP: SO_REUSEADDR). */
  readonly reuseObserved: boolean
  /** Our predicted public port: the port the peer must target. */
  readonly externalPort: number
  /** Model probability that this candidate's public port is exactly `externalPort`. */
  readonly probability: number
}

/** Our side of a punch plan. */
export interface PortPrediction {
  readonly model: PredictionModel
  /** Open these sockets in this order; publish their `externalPort`s to the peer. */
  readonly candidates: readonly PortCandidate[]
  /** P(at least one candidate is right), treating candidates as independent chances. */
  readonly probability: number
  /** Birthday spray, when one side allocates at random. */
  readonly spray?: SprayPlan
  /** False when no plan can work (both sides random-symmetric: ~170k probes). */
  readonly feasible: boolean
  readonly reason: string
}

const FULL_RANGE: readonly [number, number] = [1024, 65535]

/**
 * Predicts our public port(s) for a punch, with this probability model:
 *
 * - **open** (types 1, 2): the public port is the local port, p = 1.
 * - **reuse** (EIM: types 3–5): the observed socket keeps its mapping for every destination;
 *   reuse its local port, p = 1 while the mapping is alive.
 * - **equal** delta: public = local; reuse the observed port (p = 0.95: a tuple clash moves it).
 * - **preserving** (offset c = mapped − local, signed: fixes P2PD's P1): reuse → mapped
 *   (p = 0.9), then fresh local ports observed + i → observed + i + c (p = 0.9 each).
 * - **sequential** (independent delta k, signed): the j-th new mapping after the observation
 *   lands on mapped + j·k, where j counts `attempt` spent mappings too, so every candidate
 *   predicts a different port (P2PD's P3). With Poisson(λ = noise) foreign allocations per
 *   mapping, P(exact) = e^(−λ·j).
 * - **dependent** (k): bind observed local + j to get mapped + j·k; same noise model.
 * - **spray** (random symmetric): no single port; the hard side opens `sockets` mappings and
 *   the easy side sends `probes`: P = 1 − (1 − n/R)^k (the birthday paradox).
 *
 * When the *peer* is random-symmetric and we are not, our candidates stand and `spray` tells
 * us to be the easy side. Both random: infeasible.
 */
export function predictPorts(opts: PredictOptions): PortPrediction {
  const { ours, theirs, observed } = opts
  const count = Math.max(1, opts.count ?? 4)
  const attempt = Math.max(0, opts.attempt ?? 0)
  const noise = Math.max(0, opts.noise ?? 0.1)
  const range = ours.range ?? FULL_RANGE
  const local = observed.local.port
  const mapped = observed.mapped.port
  const theirsRandom = isUnpredictableNat(theirs)
  const single = (
    model: PredictionModel,
    externalPort: number,
    probability: number,
    reason: string,
  ) =>
    finish(
      model,
      [{ rank: 0, localPort: local, reuseObserved: true, externalPort, probability }],
      reason,
    )
  const finish = (model: PredictionModel, candidates: PortCandidate[], reason: string) => {
    const probability = 1 - candidates.reduce((miss, c) => miss * (1 - c.probability), 1)
    const spray = theirsRandom
      ? sprayPlan('easy', theirs.range ?? FULL_RANGE, opts.spray)
      : undefined
    return { model, candidates, probability, ...(spray ? { spray } : {}), feasible: true, reason }
  }

  if (isOpenNat(ours)) return single('open', local, 1, 'no NAT: the public port is the local port')
  if (ours.type === NatType.Blocked) {
    return { model: 'spray', candidates: [], probability: 0, feasible: false, reason: 'blocked' }
  }
  if (isEndpointIndependent(ours))
    return single('reuse', mapped, 1, 'endpoint-independent mapping: reuse the observed socket')

  const sequence = (
    model: PredictionModel,
    k: number,
    bindLocal: boolean,
    reason: string,
  ): PortPrediction =>
    finish(
      model,
      Array.from({ length: count }, (_, i) => {
        const j = attempt + 1 + i
        return {
          rank: i,
          localPort: bindLocal ? wrapPort(local, j, FULL_RANGE) : 0,
          reuseObserved: false,
          externalPort: wrapPort(mapped, j * k, range),
          probability: Math.exp(-noise * j),
        }
      }),
      reason,
    )

  switch (ours.delta.type) {
    case DeltaType.Equal:
      return single('equal', local, 0.95, 'equal delta: the public port is the local port')
    case DeltaType.Preserving: {
      const c = portDistance(local, mapped)
      return finish(
        'preserving',
        [
          {
            rank: 0,
            localPort: local,
            reuseObserved: true,
            externalPort: mapped,
            probability: 0.9,
          },
          ...Array.from({ length: count - 1 }, (_, i) => {
            const l = wrapPort(local, attempt + 1 + i, FULL_RANGE)
            return {
              rank: i + 1,
              localPort: l,
              reuseObserved: false,
              externalPort: wrapPort(l, c, [1, 65535]),
              probability: 0.9,
            }
          }),
        ],
        `preserving delta: public = local ${c >= 0 ? '+' : '−'} ${Math.abs(c)}`,
      )
    }
    case DeltaType.Independent:
      return sequence(
        'sequential',
        ours.delta.value,
        false,
        `sequential NAT: each new mapping is the last ${fmt(ours.delta.value)}`,
      )
    case DeltaType.Dependent:
      return sequence(
        'dependent',
        ours.delta.value,
        true,
        `dependent delta: local +1 → public ${fmt(ours.delta.value)}`,
      )
    default: {
      const feasible = !theirsRandom
      return {
        model: 'spray',
        candidates: [],
        probability: 0,
        spray: sprayPlan('hard', range, opts.spray),
        feasible,
        reason: feasible
          ? 'random symmetric NAT: open many mappings and let the peer spray probes'
          : 'both sides allocate at random: a spray would need ~170k probes',
      }
    }
  }
}

const fmt = (k: number) => (k >= 0 ? `+${k}` : `−${-k}`)
