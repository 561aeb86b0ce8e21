import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { NatlabError } from './errors.js'
import { ip, tool } from './exec.js'
import { prefixOfNamespace } from './naming.js'
import { listStates, ownerAlive, type RunState, readState, removeState, stateDir } from './state.js'
import type { LabInfo, LabPeer } from './topology.js'

/*
 * Lab runs from the outside: which namespaces a run owns, which runs exist and whether their
 * owner lives, and tearing one down (by its state file, by prefix, or every stale one). Only
 * what a run created is removed: namespaces by name, processes by PID.
 */

/** The namespaces of one peer. */
export function peerNamespaces(p: LabPeer): string[] {
  return [p.ns.wire, p.ns.cgnat, p.ns.router, p.ns.host, p.ns.host2].filter((n): n is string => !!n)
}

/** Every namespace that exists now. */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await ip(['netns', 'list'])
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean)
}

async function nsPids(ns: string): Promise<number[]> {
  const r = await ip(['netns', 'pids', ns], { allowFail: true })
  return r.stdout.split(/\s+/).filter(Boolean).map(Number)
}

/**
 * Removes one run from its state: every process inside its namespaces (by PID, from
 * `ip netns pids`), then the namespaces themselves (by name), the scratch dir, the state file.
 * Touches nothing without the run's prefix.
 */
export async function teardownRun(state: RunState): Promise<void> {
  state.status = 'tearing-down'
  const existing = new Set(await listNamespaces())
  const mine = [...new Set(state.namespaces)].filter(
    (ns) => existing.has(ns) && prefixOfNamespace(ns) === state.prefix,
  )
  const pids = (await Promise.all(mine.map(nsPids))).flat().filter((p) => p !== process.pid)
  for (const pid of pids) kill(pid, 'SIGTERM')
  const deadline = Date.now() + 3000
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  for (const pid of pids) if (alive(pid)) kill(pid, 'SIGKILL')
  for (const ns of mine.reverse()) await ip(['netns', 'del', ns], { allowFail: true })
  removeScratch(state)
  removeState(state.prefix)
}

/** The run's scratch dir and the detached owner's log (both named after the prefix). */
function removeScratch(state: RunState): void {
  const tag = state.prefix.slice(0, -1)
  if (state.runDir.includes(tag)) rmSync(state.runDir, { recursive: true, force: true })
  rmSync(join(stateDir(), `${tag}.log`), { force: true })
}

/** The synchronous variant for `process.on('exit')`, where nothing async runs. */
export function teardownSync(prefix: string): void {
  const state = readState(prefix)
  if (!state) return
  const ipBin = tool('ip')
  for (const ns of [...state.namespaces].reverse()) {
    if (prefixOfNamespace(ns) !== prefix) continue
    try {
      const out = execFileSync(ipBin, ['netns', 'pids', ns], {
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      for (const pid of String(out).split(/\s+/).filter(Boolean).map(Number)) kill(pid, 'SIGKILL')
      execFileSync(ipBin, ['netns', 'del', ns], { stdio: 'ignore' })
    } catch {}
  }
  removeScratch(state)
  removeState(prefix)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {}
}

/** The running labs (state file present, owner alive). */
export function runningLabs(): RunState[] {
  return listStates().filter((s) => ownerAlive(s) && s.status === 'up')
}

/**
 * The info of a running lab: the one with `prefix`, or the only one running.
 * Throws `NATLAB_NO_LAB` otherwise.
 */
export function attachLab(prefix?: string): LabInfo {
  const runs = runningLabs().filter((s) => !prefix || s.prefix === prefix)
  if (runs.length === 0)
    throw new NatlabError(
      'NATLAB_NO_LAB',
      prefix ? `no running lab ${prefix}` : 'no running lab (pnpm lab up)',
    )
  if (runs.length > 1)
    throw new NatlabError(
      'NATLAB_NO_LAB',
      `several labs are running (${runs.map((r) => r.prefix).join(', ')}): pass --prefix`,
    )
  return (runs[0] as RunState).info as LabInfo
}

/**
 * Stops a run from another process: asks its owner to stop (SIGTERM, by PID), waits, then
 * removes whatever is left from the state file.
 */
export async function downRun(prefix: string, waitMs = 8000): Promise<void> {
  const state = readState(prefix)
  if (!state) throw new NatlabError('NATLAB_NO_LAB', `no state file for ${prefix}`)
  if (ownerAlive(state) && state.ownerPid !== process.pid) {
    kill(state.ownerPid, 'SIGTERM')
    const deadline = Date.now() + waitMs
    while (ownerAlive(state) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  }
  const left = readState(prefix)
  if (left) await teardownRun(left)
}

/**
 * `down --all-stale`: removes runs whose owner is dead (state file) and reports namespaces with
 * our name pattern but no state file (left alone: their owner is unknown).
 */
export async function downStale(): Promise<{ removed: string[]; orphans: string[] }> {
  const removed: string[] = []
  for (const s of listStates())
    if (!ownerAlive(s)) {
      await teardownRun(s)
      removed.push(s.prefix)
    }
  const known = new Set(listStates().map((s) => s.prefix))
  const orphans = (await listNamespaces()).filter((ns) => {
    const p = prefixOfNamespace(ns)
    return p !== undefined && !known.has(p) && !removed.includes(p)
  })
  return { removed, orphans }
}
