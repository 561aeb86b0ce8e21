import { type Endpoint, linkSignals } from '@p2pd/interface'
import type { BindingResult } from '@p2pd/stun'
import { alternateOf } from './servers.js'

/**
 * Test I towards several servers at once: resolves as soon as one answers *with* an
 * alternate address (the others are cancelled), or once all settled with every answer that
 * came. Rejects with the first error only when nobody answered.
 */
export function firstAnswer(
  servers: readonly Endpoint[],
  ask: (server: Endpoint, signal: AbortSignal) => Promise<BindingResult>,
  signal: AbortSignal,
): Promise<BindingResult[]> {
  // Follows `signal`; aborted (and released) once the answer is decided.
  const link = linkSignals(signal)
  return new Promise((resolve, reject) => {
    const got: BindingResult[] = []
    const errors: unknown[] = []
    let pending = servers.length
    let done = false
    const finish = () => {
      if (done) return
      done = true
      link.abort()
      // The answer with an alternate address first, the rest in arrival order.
      const best = got.findIndex((r) => alternateOf(r).endpoint)
      if (best > 0) got.unshift(...got.splice(best, 1))
      if (got.length > 0) resolve(got)
      else reject(errors[0])
    }
    for (const server of servers) {
      ask(server, link.signal)
        .then((r) => {
          if (done) return
          got.push(r)
          if (alternateOf(r).endpoint) finish()
        })
        .catch((err: unknown) => errors.push(err))
        .finally(() => {
          if (--pending === 0) finish()
        })
    }
  })
}
