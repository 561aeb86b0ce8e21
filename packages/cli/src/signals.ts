/** Aborts on the first SIGINT/SIGTERM, so a command can stop its node and exit cleanly. */
export function interrupted(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController()
  const onSignal = (name: NodeJS.Signals) => ac.abort(new Error(`interrupted (${name})`))
  const signals = ['SIGINT', 'SIGTERM'] as const
  for (const s of signals) process.once(s, onSignal)
  return {
    signal: ac.signal,
    dispose: () => {
      for (const s of signals) process.off(s, onSignal)
    },
  }
}
