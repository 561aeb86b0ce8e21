import { networkInterfaces } from 'node:os'

/** A stable fingerprint of the machine's non-internal addresses. */
export function networkFingerprint(): string {
  return Object.entries(networkInterfaces())
    .flatMap(([name, addrs]) =>
      (addrs ?? []).filter((a) => !a.internal).map((a) => `${name}/${a.address}`),
    )
    .sort()
    .join(',')
}

/**
 * Calls `onChange` whenever an interface goes up or down or an address changes, checking
 * every `intervalMs` (Node has no portable change notification). Stops with `signal`.
 */
export function watchNetwork(
  onChange: () => void,
  options: { intervalMs: number; signal: AbortSignal; fingerprint?: () => string },
): void {
  const fingerprint = options.fingerprint ?? networkFingerprint
  let last = fingerprint()
  const timer = setInterval(() => {
    const now = fingerprint()
    if (now === last) return
    last = now
    onChange()
  }, options.intervalMs)
  timer.unref()
  options.signal.addEventListener('abort', () => clearInterval(timer), { once: true })
}
