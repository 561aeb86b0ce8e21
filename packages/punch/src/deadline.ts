import { TimeoutError } from '@p2pd/interface'

/**
 * A deadline whose timer is released on {@link Deadline.dispose} (unlike `AbortSignal.timeout`,
 * which lives on until it fires): every punch leaves no timer behind.
 */
export class Deadline {
  readonly #ctrl = new AbortController()
  readonly #timer: NodeJS.Timeout
  readonly signal: AbortSignal

  constructor(ms: number, parent: AbortSignal, what: string) {
    this.#timer = setTimeout(
      () =>
        this.#ctrl.abort(new TimeoutError(`punch: ${what} timed out after ${Math.round(ms)} ms`)),
      Math.max(0, ms),
    )
    this.signal = AbortSignal.any([parent, this.#ctrl.signal])
  }

  dispose(): void {
    clearTimeout(this.#timer)
  }
}
