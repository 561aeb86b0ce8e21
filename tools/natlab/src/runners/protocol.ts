import type { LabEndpoint } from '../servers.js'

/**
 * The strategy runner protocol. The lab starts one runner process per side of a trial inside
 * that side's host namespace (`ip netns exec HOSTNS <argv>`), fresh for every trial, with its
 * configuration in the environment variable `NATLAB_RUNNER_CONFIG` (a {@link RunnerConfig}).
 *
 * 1. runner → stdout: `{"type":"ready","info":{…}}` once it knows what the peer needs from it
 *    (its public mapping, a listen port, a peer address …). `info` is opaque to the lab.
 * 2. lab → stdin: a {@link StartMessage}: the peer's `info`, the absolute time to start at and
 *    a per-trial nonce.
 * 3. runner → stdout: `{"type":"result",…}` ({@link RunnerResult}), then exit.
 *
 * Other stdout lines that are not JSON objects are ignored; stderr is kept for the report.
 * The lab kills a runner (by PID) that has not printed its result within the trial timeout.
 */
export interface RunnerConfig {
  /** `A` dials (the matrix row), `B` is the other side (the column). */
  readonly role: 'A' | 'B'
  readonly runner: string
  /** This side: peer label, host address, public address, profile name. */
  readonly self: { label: string; hostIp: string; publicIp: string; profile: string }
  /** The other side, as far as the lab knows it (runners should not need it). */
  readonly peer: { label: string; publicIp: string; profile: string }
  /** Every lab server endpoint by server and endpoint name (`seen.seen1`, `coturn.stun` …). */
  readonly servers: Readonly<Record<string, Readonly<Record<string, LabEndpoint>>>>
  /** Runner options given to the matrix/probe (`retryOnRst`, `deadlineMs` …). */
  readonly options: Readonly<Record<string, unknown>>
}

export interface StartMessage {
  readonly type: 'start'
  /** The `info` the other side printed in its ready line. */
  readonly peer: Record<string, unknown>
  /** Epoch ms at which this side starts (the shared start plus this side's skew). */
  readonly startAt: number
  /** This side's skew from the shared start, ms (informational). */
  readonly skewMs: number
  /** A per-trial value both sides use to prove the data path (`hello ROLE NONCE`). */
  readonly nonce: string
}

/** What a runner prints as its result. */
export interface RunnerResult {
  readonly ok: boolean
  /** The strategy that produced the connection (the winner, for a pipeline). */
  readonly strategy?: string
  /** Epoch ms when the connection was established (before the hello exchange that proves it). */
  readonly connectedAt?: number
  /** The socket's local and remote addresses (`ip:port`). `remote` is what the lab checks. */
  readonly local?: string
  readonly remote?: string
  /** True when the runner knows its path is relayed (TURN). The lab checks anyway. */
  readonly relayed?: boolean
  /** A short machine-readable failure reason (`ECONNREFUSED`, `timeout`, …). */
  readonly error?: string
  /** Anything else worth keeping in the results (attempt counts, predictions …). */
  readonly detail?: Record<string, unknown>
}
