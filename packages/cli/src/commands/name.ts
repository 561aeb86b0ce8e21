import { isLabel, isName, NamePublisher, nameResolver } from '@p2pd/names'
import { intFlag, UsageError } from '../args.js'
import type { Io } from '../command.js'
import { resolveConfig } from '../config.js'
import { describeError } from '../describe-error.js'
import { parseNodeArgs, withNode } from '../node-command.js'
import { interrupted } from '../signals.js'

const SET_FLAGS = {
  keep: { type: 'boolean' },
  ttl: { type: 'string' },
} as const

/** How long `name resolve` waits for the brokers unless `--timeout` says otherwise. */
const RESOLVE_TIMEOUT_MS = 5_000

/** `p2pd name set|resolve …`. */
export async function nameCommand(argv: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === 'set') return setName(rest, io)
  if (sub === 'resolve') return resolveName(rest, io)
  throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'name needs set or resolve')
}

/**
 * `p2pd name set <label>`: starts this node, publishes `<label>.<fingerprint>` → its address
 * on every configured broker and prints the full name; `--keep` stays running, re-publishing
 * on address changes and before expiry, until Ctrl-C.
 */
async function setName(argv: readonly string[], io: Io): Promise<number> {
  const { flags, positionals } = parseNodeArgs(argv, SET_FLAGS, 1)
  const label = positionals[0]
  if (!label) throw new UsageError('name set needs a label, e.g. `p2pd name set alice`')
  if (!isLabel(label)) {
    throw new UsageError(
      `'${label.slice(0, 40)}' is not a label: 1–32 of a–z 0–9 - (no - at either end)`,
    )
  }
  const ttlS = intFlag(flags, 'ttl', 3600, { min: 60, max: 7 * 24 * 3600 })
  const { config } = await resolveConfig(flags)
  return withNode(flags, io, async ({ node }, signal) => {
    const publisher = new NamePublisher({
      identity: node.identity,
      label,
      brokers: [...config.brokers],
      ttlS,
      timeoutMs: Math.min(config.timeoutMs, 10_000),
    })
    try {
      const result = flags.keep
        ? await publisher.follow(node)
        : await publisher.publish(node.addressText, { signal })
      io.out(publisher.name)
      io.err(
        `published seq ${result.seq} on ${result.accepted.length} of ${config.brokers.length} broker(s)` +
          result.failed.map((f) => `\n  not on ${f.url}: ${f.error}`).join(''),
      )
      if (!flags.keep) return 0
      publisher.on('published', (r) =>
        io.err(`re-published seq ${r.seq} on ${r.accepted.length} broker(s)`),
      )
      publisher.on('error', (err) => io.err(`p2pd name: ${describeError(err)} (will retry)`))
      io.err('following address changes; Ctrl-C to stop')
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve()
        signal.addEventListener('abort', () => resolve(), { once: true })
      })
      return 0
    } finally {
      publisher.close()
    }
  })
}

/** `p2pd name resolve <name>`: prints the address the name points at (no node needed). */
async function resolveName(argv: readonly string[], io: Io): Promise<number> {
  const { flags, positionals } = parseNodeArgs(argv, {}, 1)
  const name = positionals[0]
  if (!name) throw new UsageError('name resolve needs a name, e.g. alice.<fingerprint>')
  if (!isName(name)) {
    throw new UsageError(`'${name.slice(0, 60)}' is not a name: <label>.<16-character fingerprint>`)
  }
  const { config } = await resolveConfig(flags)
  const stop = interrupted()
  try {
    const timeoutMs = flags.timeout === undefined ? RESOLVE_TIMEOUT_MS : config.timeoutMs
    const record = await nameResolver({ brokers: [...config.brokers], timeoutMs }).resolveRecord(
      name,
      { signal: stop.signal },
    )
    io.out(record.address)
    io.err(
      `${record.name}: node ${record.nodeId}, seq ${record.seq}, expires ${new Date(record.expires * 1000).toISOString()}`,
    )
    return 0
  } finally {
    stop.dispose()
  }
}
