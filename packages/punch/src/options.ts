import type { StunServerSpec } from './mappings.js'
import { punchVerdict } from './plan.js'
import type { Acceptor as AcceptorRole, NatRecord, PunchMode } from './protocol/messages.js'
import { type FastRetry, fastRetryDefaults } from './retry.js'
import { TripEstimate } from './schedule.js'
import { type SprayBudget, type SprayChoice, sprayChoice } from './spray.js'

export interface PunchInit {
  /** STUN servers reachable over TCP (`host:port` or endpoints); needed for remote peers. */
  readonly stunServers?: readonly StunServerSpec[]
  /** Socket pairs punched at once between two endpoint-independent NATs (default 2). */
  readonly sockets?: number
  /** Predicted ports a sequential-symmetric side announces (and may spend; default 8). */
  readonly predictions?: number
  /** Base punch window after the meeting instant, before clock uncertainty (default 3,000 ms). */
  readonly windowMs?: number
  /** Cap of one connect attempt (default 1,500 ms). */
  readonly attemptTimeoutMs?: number
  /** Deadline of each STUN observation (default 2,000 ms). */
  readonly stunTimeoutMs?: number
  /** How long the answerer waits for `punch/ready` (default 10,000 ms). */
  readonly readyTimeoutMs?: number
  /**
   * Retry at once after a RST (a 0–1.5 ms pause, at most 3,000 times or 3 s per pair) on
   * sides whose NAT keeps one mapping per local port; `false` turns it off. See `FastRetry`.
   */
  readonly fastRetry?: Partial<FastRetry> | false
  /**
   * Answer-and-go (default true): the offer invites the answerer to fix the plan itself from
   * the offer's measured one-way delay and start, saving the ready/ack round trip; the
   * answerer does so when it supports it and the clocks agree within 100 ms. `false`: always
   * offer → answer → ready → ack.
   */
  readonly answerAndGo?: boolean
  /**
   * Dial first (default true; needs answer-and-go): against a port-preserving cone NAT that
   * drops refused SYNs, the offerer proposes the answerer's local ports in its offer and dials
   * them at once, so the answerer dials on receipt and no meeting instant is waited for (see
   * `flow/early.ts`). `false`: the offerer dials once the answer has come.
   */
  readonly dialFirst?: boolean
  /**
   * Announce a port-preserving cone NAT's mappings without a STUN round (default true): its
   * external IP and the fresh local port, in a simultaneous open. `false`: always observe (and
   * hold) each mapping through STUN over TCP.
   */
  readonly predictMappings?: boolean
  /**
   * Experimental, off by default: sequential × cone with RST on both NATs takes turns
   * (`flow/slots.ts`). Lab: 1/5 at ~0 ms (0/5 without), but 0/4 at 25 ms where the plain
   * schedule is used.
   */
  readonly turns?: boolean
  /** Birthday-spray budget (symmetric random × port-restricted cone); see `sprayChoice`. */
  readonly spray?: SprayBudget
  /** Observer of each punch's milestones (tests, benchmarks, the lab runner). */
  readonly onEvent?: (event: PunchEvent) => void
}

/** Milestones of one punch, for tests and measurements. */
export type PunchEvent =
  | {
      readonly type: 'planned'
      readonly role: 'offerer' | 'answerer'
      readonly mode: PunchMode
      readonly acceptor: AcceptorRole
      readonly meetAt: number
      readonly rttMs: number
      readonly windowMs: number
      readonly pairs: number
      /** Set when this punch sprays: our part and the budget. */
      readonly spray?: SprayChoice & { readonly role: 'hard' | 'easy' }
      /** Set when the sides take turns (sequential × cone, RST on both sides). */
      readonly slots?: { readonly role: 'sequential' | 'cone'; readonly slotMs: number }
      /** Our NAT's and the peer's SYN policy, as the plan saw them. */
      readonly syn?: { readonly mine: string; readonly peer: string }
      /** The offerer planned this long after the meeting instant (ms; absent when in time). */
      readonly lateMs?: number
    }
  | {
      readonly type: 'connected'
      readonly role: 'offerer' | 'answerer'
      readonly attempts: number
      /** Attempts refused by a RST. */
      readonly refused?: number
      readonly local: string
      readonly remote: string
    }
  | {
      readonly type: 'failed'
      readonly role: 'offerer' | 'answerer'
      readonly reason: string
      readonly attempts: number
      /** Attempts refused by a RST. */
      readonly refused?: number
    }

const DEFAULT_SOCKETS = 2
const DEFAULT_PREDICTIONS = 8

/** {@link PunchInit} resolved once per strategy: what both flows read. */
export interface Settings {
  readonly init: PunchInit
  /** Socket pairs between two endpoint-independent NATs (1–16). */
  readonly sockets: number
  /** Predicted ports a sequential side announces (1–64). */
  readonly predictions: number
  readonly emit: (event: PunchEvent) => void
  /** Whether to offer, and to accept, answer-and-go. */
  readonly answerAndGo: boolean
  /** Whether the offerer dials first against a port-preserving, SYN-dropping cone. */
  readonly dialFirst: boolean
  /** Whether sequential × cone with RST on both sides takes turns (experimental). */
  readonly turns: boolean
  /** Whether a port-preserving cone announces its mappings without STUN. */
  readonly predictPreserving: boolean
  /** The RST retry policy of endpoint-independent sides (`undefined`: off). */
  readonly fastRetry: FastRetry | undefined
  /**
   * How long this strategy's go-answers took from fixing their plan to the broker's
   * acknowledgement: the answerer's leads cover it (schedule.ts, `answerLead`).
   */
  readonly answerTrip: TripEstimate
  /** {@link punchVerdict} with this strategy's spray budget. */
  readonly verdictOf: (a: NatRecord, b: NatRecord) => true | string
}

export function settings(init: PunchInit): Settings {
  return {
    init,
    sockets: Math.max(1, Math.min(16, init.sockets ?? DEFAULT_SOCKETS)),
    predictions: Math.max(1, Math.min(64, init.predictions ?? DEFAULT_PREDICTIONS)),
    emit: (e) => init.onEvent?.(e),
    answerAndGo: init.answerAndGo !== false,
    dialFirst: init.dialFirst !== false,
    predictPreserving: init.predictMappings !== false,
    turns: init.turns === true,
    answerTrip: new TripEstimate(),
    fastRetry: init.fastRetry === false ? undefined : { ...fastRetryDefaults, ...init.fastRetry },
    // Refuse a spray that cannot reach its floor.
    verdictOf: (a, b) =>
      punchVerdict(a, b, (random) => {
        const c = sprayChoice(random.range, init.spray)
        if (c.feasible) return true
        const size = c.range[1] - c.range[0] + 1
        return `not punchable: ${c.probes} probes against ${c.live} live mappings (of ${c.sockets} sockets) over ${size} ports reach only ${Math.round(c.probability * 100)} %`
      }),
  }
}
