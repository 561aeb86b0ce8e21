import { decodePeerAddress } from '@p2pd/address'
import type { Pipe } from '@p2pd/interface'
import { isName } from '@p2pd/names'
import { type Flags, type OptionSpecs, parseFlags, UsageError } from './args.js'
import type { Io } from './command.js'
import { NODE_FLAGS, resolveConfig } from './config.js'
import { type RunningNode, startNode } from './node-setup.js'
import { interrupted } from './signals.js'

export const ALLOW_FLAG: OptionSpecs = { allow: { type: 'string', multiple: true } }

/** The parsed flags and positionals of a node-running command, node options included. */
export function parseNodeArgs(
  argv: readonly string[],
  own: OptionSpecs,
  maxPositionals: number,
): { flags: Flags; positionals: string[] } {
  return parseFlags(argv, { ...NODE_FLAGS, ...own }, { max: maxPositionals })
}

/**
 * Checks a peer address argument before any network work, so a typo fails at once. A name
 * (`alice.<fingerprint>`, see `p2pd name`) passes: the node resolves it when it connects.
 */
export function peerAddressArg(text: string | undefined, command: string): string {
  if (!text)
    throw new UsageError(`${command} needs the peer's address (what the other side printed)`)
  if (isName(text)) return text
  try {
    decodePeerAddress(text)
  } catch (err) {
    throw new UsageError(`'${text.slice(0, 40)}…' is not a peer address: ${(err as Error).message}`)
  }
  return text
}

/**
 * Runs `body` with a started node, stopping it afterwards and on Ctrl-C/SIGTERM (the signal
 * `body` gets aborts then). Resolves to the exit code: 130 when interrupted.
 */
export async function withNode(
  flags: Flags,
  io: Io,
  body: (running: RunningNode, signal: AbortSignal) => Promise<number>,
): Promise<number> {
  const { config } = await resolveConfig(flags)
  const stop = interrupted()
  const allow = flags.allow as string[] | undefined
  const running = await startNode(config, io, {
    ...(allow ? { allow } : {}),
    verbose: flags.verbose === true,
  })
  try {
    return await body(running, stop.signal)
  } catch (err) {
    if (stop.signal.aborted) {
      io.err('p2pd: interrupted')
      return 130
    }
    throw err
  } finally {
    stop.dispose()
    await running.stop()
  }
}

/** "peer <id> connected via <strategy>": what listeners print for each peer. */
export function describePeer(pipe: Pipe, ms?: number): string {
  const took = ms === undefined ? '' : ` in ${ms.toFixed(0)} ms`
  return `peer ${pipe.remotePeer} connected via ${pipe.strategy}${took}`
}
