import { parseArgs } from 'node:util'
import { P2pdError } from '@p2pd/interface'

/** A command-line usage error: printed with the usage text, exit code 2. */
export class UsageError extends P2pdError {
  constructor(message: string) {
    super('CLI_USAGE', message)
  }
}

export type Flags = Record<string, string | boolean | string[] | undefined>

/** Parses `argv` with `node:util` parseArgs; unknown flags are usage errors. */
export function parseFlags(
  argv: readonly string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>,
): { flags: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    })
    return { flags: values as Flags, positionals }
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

export function intFlag(flags: Flags, name: string, fallback: number): number {
  const v = flags[name]
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number`)
  return n
}
