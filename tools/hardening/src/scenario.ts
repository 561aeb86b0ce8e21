/**
 * The contract every hardening scenario implements. A scenario attacks or breaks one part of
 * p2pd on loopback, measures what happened, and says whether it met the bar.
 */
export interface ScenarioOptions {
  /** The short version (runs inside `npm test`): fewer attempts, same checks. */
  readonly short: boolean
  /** Aborts the scenario (the runner's overall budget). */
  readonly signal: AbortSignal
  /** Progress lines for a human watching the run. */
  log(line: string): void
}

/** One measured outcome: a row in HARDENING.md. */
export interface ScenarioResult {
  /** What was tried, e.g. `preamble-only stalls`. */
  readonly name: string
  /** How many hostile actions or injected faults. */
  readonly attempts: number
  /** The fault or attack, in a few words. */
  readonly fault: string
  /** What happened, one line, with the figures. */
  readonly outcome: string
  /** The bar it is held to, one line (so a reader sees what "pass" means). */
  readonly bar: string
  /** True when the bar was met. */
  readonly pass: boolean
  /** Time to recover (first good operation after the fault), when that applies. */
  readonly recoveryMs?: number
  /** Bytes lost (sent but not delivered, undetected), when that applies. */
  readonly dataLostBytes?: number
  /** Any further figures worth keeping (written to the JSON beside HARDENING.md). */
  readonly figures?: Readonly<Record<string, number | string | boolean>>
}

export interface Scenario {
  /** Group heading in HARDENING.md: `strangers`, `signaling`, `turn`, `faults`. */
  readonly group: string
  readonly name: string
  /** Needs root (ulimit changes, killing servers it started is fine without). */
  readonly needsRoot?: boolean
  run(options: ScenarioOptions): Promise<ScenarioResult[]>
}
