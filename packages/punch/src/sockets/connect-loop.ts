import { Socket } from 'node:net'
import type { Clock } from '@p2pd/interface'
import type { DialPair } from '../plan.js'
import { type FastRetry, retryDelay } from '../retry.js'
import { defaults } from '../schedule.js'

export interface ConnectLoopOptions {
  readonly pairs: readonly DialPair[]
  /** Local IP every socket binds (with the pair's port). */
  readonly localAddress: string | undefined
  /** The meeting instant on `clock` (epoch ms). */
  readonly startAt: number
  readonly clock: Clock
  /** Start offset of each pair after `startAt`, by pair index (stagger); its `shiftMs` adds to it. */
  readonly offsets: readonly number[]
  /** Stop starting attempts this long after `startAt`. */
  readonly windowMs: number
  /**
   * Each pair stops starting attempts this long after its own start (`startAt + offset`), when
   * set: pairs that take turns (see `slots.ts`). Default: until the window closes.
   */
  readonly activeMs?: number
  /** Mean pause before retrying after a failed attempt (jittered ±50 %). */
  readonly retryMs: number
  /**
   * Retry at once (uniform 0…`maxMs`) after a RST, within a budget: for pairs whose local NAT
   * keeps one mapping for every attempt. Off (`undefined`): every retry waits `retryMs`.
   */
  readonly fastRetry?: FastRetry
  readonly attemptTimeoutMs?: number
  /**
   * Most attempts per second over all pairs (a token bucket holding 10 ms of burst): an
   * attempt due while the bucket is empty waits for its token. Default: unlimited (the
   * offsets and retry pauses pace the loop).
   */
  readonly maxPerSecond?: number
  /** Every connected socket, in order; the caller owns it from then on. */
  readonly onSocket: (socket: Socket, pair: DialPair) => void
  /** Attempt log (debugging, benchmarks). */
  readonly onAttempt?: (pair: DialPair, outcome: string) => void
  readonly random?: () => number
}

/** Event-loop turns a sub-ms pause spans at most (one turn takes a few µs when idle). */
const SUB_MS_TURNS = 32

/** A running connect loop. */
export interface ConnectLoop {
  /** Resolves when every pair has stopped (window over, attempts spent, or `stop()`). */
  readonly done: Promise<void>
  /** Total connect attempts so far. */
  readonly attempts: () => number
  /** Attempts refused by a RST so far (`ECONNREFUSED`). */
  readonly refused: () => number
  /** Stops every pair: pending connects are destroyed, timers cleared. Idempotent. */
  stop(): void
}

/**
 * Fires the SYNs of a punch. Each pair starts at `startAt + offset` on `clock` and connects
 * from its fixed local port; every attempt is capped (a silently dropped SYN must not block),
 * and after a RST (or any other error) the pair retries after a *jittered* interval until the
 * window closes or its attempts are spent — right away after a RST when `fastRetry` says so
 * (see `retry.ts`). Sockets that connect go to `onSocket`; the loop
 * keeps running until `stop()` — the caller decides which socket it keeps.
 */
export function connectLoop(opts: ConnectLoopOptions): ConnectLoop {
  const random = opts.random ?? Math.random
  const attemptTimeoutMs = opts.attemptTimeoutMs ?? defaults.attemptTimeoutMs
  const timers = new Set<NodeJS.Timeout>()
  const immediates = new Set<NodeJS.Immediate>()
  const pending = new Set<Socket>()
  let stopped = false
  let attempts = 0
  let refused = 0
  let running = opts.pairs.length
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve
  })
  const endAt = opts.startAt + opts.windowMs
  const later = (ms: number, fn: () => void) => {
    // A timer never fires under 1 ms: a sub-ms pause (a fast retry) waits that fraction of
    // SUB_MS_TURNS turns of the event loop instead (µs each). Without it two retry loops of
    // equal period keep their phase and never cross (lab: 6,000 attempts a side, no crossing).
    if (ms < 1) {
      let turns = Math.round(Math.max(0, ms) * SUB_MS_TURNS)
      const step = () => {
        const i = setImmediate(() => {
          immediates.delete(i)
          if (turns-- > 0) return step()
          fn()
        })
        immediates.add(i)
      }
      return step()
    }
    const t = setTimeout(
      () => {
        timers.delete(t)
        fn()
      },
      Math.max(0, ms),
    )
    timers.add(t)
  }
  // Token bucket for `maxPerSecond` (a burst of 10 ms worth, at least one token); attempts
  // that find it empty queue in order behind one drain timer, not a timer each.
  const rate = opts.maxPerSecond
  const burst = rate === undefined ? 0 : Math.max(1, rate / 100)
  let tokens = burst
  let filledAt = performance.now()
  const queue: (() => void)[] = []
  let draining = false
  const refill = () => {
    const now = performance.now()
    tokens = Math.min(burst, tokens + ((now - filledAt) * (rate ?? 0)) / 1000)
    filledAt = now
  }
  const drain = () => {
    draining = false
    if (stopped) return
    refill()
    while (tokens >= 1 && queue.length > 0) {
      tokens -= 1
      queue.shift()?.()
    }
    if (queue.length > 0 && rate !== undefined) {
      draining = true
      later(Math.max(1, ((1 - tokens) * 1000) / rate), drain)
    }
  }
  /** Runs `fn` now if a token is free (or there is no cap), else when its turn comes. */
  const gated = (fn: () => void) => {
    if (rate === undefined) return fn()
    refill()
    if (queue.length === 0 && tokens >= 1) {
      tokens -= 1
      return fn()
    }
    queue.push(fn)
    if (!draining) {
      draining = true
      later(Math.max(1, ((1 - tokens) * 1000) / rate), drain)
    }
  }
  const pairDone = () => {
    running--
    if (running <= 0) resolveDone()
  }

  interface PairState {
    made: number
    fastUsed: number
    firstRefusedAt?: number
    /** When this pair stops starting attempts (clock ms). */
    endAt: number
  }
  const attempt = (pair: DialPair, st: PairState) => {
    const made = st.made
    if (stopped) return pairDone()
    const left = st.endAt - opts.clock.now()
    if (left <= 0 || made >= pair.maxAttempts) return pairDone()
    attempts++
    const socket = new Socket()
    pending.add(socket)
    let settled = false
    const settle = (outcome: string, retryIn: number | undefined) => {
      if (settled) return
      settled = true
      clearTimeout(cap)
      timers.delete(cap)
      pending.delete(socket)
      opts.onAttempt?.(pair, outcome)
      if (outcome !== 'connected') socket.destroy()
      if (retryIn === undefined) return pairDone()
      st.made = made + 1
      later(retryIn, () => gated(() => attempt(pair, st)))
    }
    const cap = setTimeout(() => settle('timeout', 0), Math.min(attemptTimeoutMs, left))
    timers.add(cap)
    socket.once('connect', () => {
      if (stopped) return settle('late', undefined)
      socket.removeAllListeners('error')
      socket.on('error', () => {})
      settle('connected', undefined)
      opts.onSocket(socket, pair)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // RST (ECONNREFUSED), ICMP errors, or the previous socket of this 4-tuple still closing
      // (EADDRINUSE/EADDRNOTAVAIL): all worth another try after a jittered pause.
      const code = err.code ?? 'error'
      if (code === 'ECONNREFUSED') {
        refused++
        st.firstRefusedAt ??= performance.now()
      }
      const next = retryDelay(
        code,
        {
          fastUsed: st.fastUsed,
          sinceFirstRefusedMs:
            st.firstRefusedAt === undefined ? undefined : performance.now() - st.firstRefusedAt,
        },
        opts.retryMs,
        opts.fastRetry,
        random,
      )
      if (next.fast) st.fastUsed++
      settle(code, next.delayMs)
    })
    socket.connect({
      host: pair.remote.host,
      port: pair.remote.port,
      localPort: pair.localPort,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
    })
  }

  if (running === 0) resolveDone()
  for (const pair of opts.pairs) {
    const offset = (opts.offsets[pair.index] ?? 0) + (pair.shiftMs ?? 0)
    const pairEnd =
      opts.activeMs === undefined ? endAt : Math.min(endAt, opts.startAt + offset + opts.activeMs)
    later(opts.startAt + offset - opts.clock.now(), () =>
      gated(() => attempt(pair, { made: 0, fastUsed: 0, endAt: pairEnd })),
    )
  }

  return {
    done,
    attempts: () => attempts,
    refused: () => refused,
    stop() {
      if (stopped) return
      stopped = true
      for (const t of timers) clearTimeout(t)
      timers.clear()
      for (const i of immediates) clearImmediate(i)
      immediates.clear()
      for (const s of pending) s.destroy()
      pending.clear()
      queue.length = 0
      resolveDone()
    },
  }
}
