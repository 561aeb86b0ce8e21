import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isRunPrefix } from './naming.js'

/** Where run state files live: `/run/p2pd-natlab` (root), else `$TMPDIR/p2pd-natlab`. */
export function stateDir(): string {
  if (process.env.P2PD_NATLAB_STATE_DIR) return process.env.P2PD_NATLAB_STATE_DIR
  for (const dir of ['/run/p2pd-natlab', join(process.env.TMPDIR ?? '/tmp', 'p2pd-natlab')]) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 })
      return dir
    } catch {}
  }
  throw new Error('no writable state directory')
}

/** One process the lab started (server, delay line, service), stopped by PID at teardown. */
export interface ProcessRecord {
  readonly pid: number
  readonly what: string
  readonly ns: string
}

/** What `pnpm lab down` from another process needs to find and remove a run. */
export interface RunState {
  readonly stateVersion: 1
  readonly prefix: string
  /** The process that owns the lab; when it is dead the run is stale. */
  ownerPid: number
  /** Owner's start time (clock ticks since boot, /proc/PID/stat field 22) to detect PID reuse. */
  ownerStartTicks: number
  readonly createdAt: string
  status: 'building' | 'up' | 'tearing-down'
  /** Every namespace this run created, in creation order. */
  namespaces: string[]
  processes: ProcessRecord[]
  /** Scratch files (server configs, logs). Removed at teardown. */
  runDir: string
  /** The lab description (peers, servers, addresses) for other processes (selfcheck). */
  // biome-ignore lint/suspicious/noExplicitAny: a serialised LabInfo; typed in topology.ts
  info?: any
}

export function stateFile(prefix: string): string {
  return join(stateDir(), `${prefix}.json`)
}

export function writeState(state: RunState): void {
  const file = stateFile(state.prefix)
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2))
  renameSync(`${file}.tmp`, file)
}

export function readState(prefix: string): RunState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(prefix), 'utf8')) as RunState
  } catch {
    return undefined
  }
}

export function removeState(prefix: string): void {
  rmSync(stateFile(prefix), { force: true })
}

/** Every run with a state file. */
export function listStates(): RunState[] {
  let names: string[] = []
  try {
    names = readdirSync(stateDir())
  } catch {
    return []
  }
  return names
    .filter((n) => n.endsWith('.json') && isRunPrefix(n.slice(0, -5)))
    .map((n) => readState(n.slice(0, -5)))
    .filter((s): s is RunState => s !== undefined)
}

/** Start time of a process in clock ticks since boot, or undefined if it does not exist. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(rest[19])
  } catch {
    return undefined
  }
}

/** True when the run's owner process is still the same live process. */
export function ownerAlive(state: RunState): boolean {
  const ticks = processStartTicks(state.ownerPid)
  return ticks !== undefined && ticks === state.ownerStartTicks
}
