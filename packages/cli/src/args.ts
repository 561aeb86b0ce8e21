import { parseArgs } from 'node:util'
import { P2pdError } from '@p2pd/interface'

/** A command-line usage error: printed with the command's usage text, exit code 2. */
export class UsageError extends P2pdError {
  constructor(message: string) {
    super('CLI_USAGE', message)
  }
}

export type Flags = Record<string, string | boolean | string[] | undefined>

export type OptionSpecs = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
>

/**
 * Parses `argv` with `node:util` parseArgs: unknown flags, missing values and (unless
 * `positionals` allows them) stray arguments are usage errors.
 */
export function parseFlags(
  argv: readonly string[],
  options: OptionSpecs,
  positionals: { max?: number } = {},
): { flags: Flags; positionals: string[] } {
  let parsed: { values: Flags; positionals: string[] }
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true }) as {
      values: Flags
      positionals: string[]
    }
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const max = positionals.max ?? 0
  const extra = parsed.positionals.slice(max)
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`)
  return { flags: parsed.values, positionals: parsed.positionals }
}

/** A whole number flag (≥ 0 unless `min` says otherwise), or `fallback` when absent. */
export function intFlag(
  flags: Flags,
  name: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
  const v = flags[name]
  if (v === undefined) return fallback
  const n = Number(v)
  const min = range.min ?? 0
  const max = range.max ?? Number.MAX_SAFE_INTEGER
  if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    const bounds = range.max !== undefined ? ` ${min}–${max}` : min > 0 ? ` ≥ ${min}` : ''
    throw new UsageError(`--${name} must be a whole number${bounds}, not '${String(v)}'`)
  }
  return n
}

/** A string flag that must be one of `choices`. */
export function choiceFlag<T extends string>(
  flags: Flags,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = flags[name]
  if (v === undefined) return fallback
  if (!choices.includes(v as T)) {
    throw new UsageError(`--${name} must be ${choices.join(', ')}, not '${String(v)}'`)
  }
  return v as T
}

/** A comma-separated list flag whose every item must be one of `choices`. */
export function listFlag<T extends string>(
  flags: Flags,
  name: string,
  choices: readonly T[],
): T[] | undefined {
  const v = flags[name]
  if (v === undefined) return undefined
  const items = String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (items.length === 0)
    throw new UsageError(`--${name} needs at least one of ${choices.join(', ')}`)
  for (const item of items) {
    if (!choices.includes(item as T)) {
      throw new UsageError(`--${name} takes ${choices.join(', ')} (comma-separated), not '${item}'`)
    }
  }
  return items as T[]
}

/** True when `-h`/`--help` appears before a `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false
    if (a === '-h' || a === '--help') return true
  }
  return false
}
