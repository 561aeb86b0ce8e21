import { abortReason, Deadline, TimeoutError, throwIfAborted } from '@p2pd/interface'
import { PortMapError } from './errors.js'
import { PortMapping } from './mapping.js'
import type { MappingClient, MappingGrant, MapRequest } from './types.js'

/** Default deadline of one method inside {@link PortMapper.map}. */
export const DEFAULT_METHOD_TIMEOUT_MS = 2000

/**
 * Tries mapping clients in order and returns the first grant as a live {@link PortMapping}.
 *
 * @example
 * ```ts
 * import { findGateway, gatewayClients, PortMapper } from '@p2pd/portmap'
 *
 * const mapper = new PortMapper(gatewayClients({ gateway: await findGateway() }))
 * const mapping = await mapper.map({ protocol: 'tcp', internalPort: 4000 })
 * console.log(mapping.external, mapping.method) // { host: '203.0.113.7', port: 4000 } 'pcp'
 * await mapping.release()
 * ```
 */
export class PortMapper {
  constructor(private readonly clients: readonly MappingClient[]) {
    if (clients.length === 0) throw new PortMapError('PORTMAP_BAD_ARGUMENT', 'no mapping clients')
  }

  /**
   * Maps with the first client that succeeds. Each gets `methodTimeoutMs` (default 2000 ms)
   * within the whole request's deadline (`timeoutMs`, default one method's budget per client).
   *
   * @throws {@link PortMapError} `PORTMAP_FAILED` with every method's error in `cause`
   *   (an `AggregateError`); `TimeoutError` at the deadline (even if a method ignores its
   *   signal), `AbortError` from the caller's signal
   */
  async map(request: MapRequest & { readonly methodTimeoutMs?: number }): Promise<PortMapping> {
    const perMethod = request.methodTimeoutMs ?? DEFAULT_METHOD_TIMEOUT_MS
    const deadline = new Deadline(
      request.timeoutMs ?? perMethod * this.clients.length,
      request.signal,
      'port mapping',
    )
    const signal = deadline.signal
    const errors: unknown[] = []
    try {
      for (const client of this.clients) {
        throwIfAborted(signal)
        try {
          const grant = await mapWithin(
            client,
            { ...request, signal, timeoutMs: perMethod },
            deadline,
          )
          return new PortMapping(client, { ...request, timeoutMs: perMethod }, grant)
        } catch (err) {
          errors.push(err)
          // Past the deadline, that is the answer, whichever method was running.
          if (signal.aborted) {
            const reason = abortReason(signal)
            if (!(reason instanceof TimeoutError)) throw reason
            throw new TimeoutError(`${reason.message}: ${this.#summary(errors)}`, {
              cause: new AggregateError(errors, 'no port-mapping method answered in time'),
            })
          }
        }
      }
    } finally {
      deadline.dispose()
    }
    throw new PortMapError('PORTMAP_FAILED', `no port mapping: ${this.#summary(errors)}`, {
      cause: new AggregateError(errors, 'every port-mapping method failed'),
    })
  }

  /** What each method tried said, in order: `pcp: …; nat-pmp: …`. */
  #summary(errors: readonly unknown[]): string {
    return errors
      .map((e, i) => `${this.clients[i]?.method}: ${e instanceof Error ? e.message : String(e)}`)
      .join('; ')
  }

  /** Closes every client. */
  close(): void {
    for (const c of this.clients) c.close?.()
  }
}

/**
 * `client.map` settled by `deadline` even if the client ignores its signal; a grant that
 * arrives after the deadline anyway is deleted rather than leaked on the gateway.
 */
async function mapWithin(
  client: MappingClient,
  request: MapRequest,
  deadline: Deadline,
): Promise<MappingGrant> {
  const asked = Promise.resolve().then(() => client.map(request))
  try {
    return await deadline.race(asked)
  } catch (err) {
    if (deadline.aborted) asked.then((late) => client.unmap(late)).catch(() => {})
    throw err
  }
}
