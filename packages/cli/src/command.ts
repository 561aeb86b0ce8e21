/** Where a command writes: `out` is its result (stdout), `err` its progress and notes (stderr). */
export interface Io {
  out(line: string): void
  err(line: string): void
}

/** What a command module exports: runs the command, resolves to the exit code. */
export type CommandRun = (argv: readonly string[], io: Io) => Promise<number>
