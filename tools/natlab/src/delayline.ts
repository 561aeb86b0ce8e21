import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { NatlabError } from './errors.js'
import { nsRun, spawnInNamespace, tool } from './exec.js'
import { jsonLines, PACKAGE_DIR, stopChild } from './node-in-ns.js'

/** Delay, jitter and loss of one wire (per direction). */
export interface LinkShape {
  /** One-way delay router → internet, ms. */
  readonly upMs: number
  /** One-way delay internet → router, ms. */
  readonly downMs: number
  /** Extra uniform delay 0…jitterMs per frame (order is kept). */
  readonly jitterMs?: number
  /** Drop probability per frame, 0…1, both directions. */
  readonly loss?: number
}

export const DELAYLINE_SCRIPT = join(PACKAGE_DIR, 'delayline', 'delayline.py')

/** True when the wire needs the delay line at all. */
export function needsDelayLine(shape: LinkShape | undefined): shape is LinkShape {
  return (
    !!shape &&
    (shape.upMs > 0 || shape.downMs > 0 || (shape.jitterMs ?? 0) > 0 || (shape.loss ?? 0) > 0)
  )
}

/**
 * Turns off checksum offload, TSO and GSO (and GRO) on an interface that transmits into the
 * delay line: otherwise 64 KB GSO super-frames reach the line and cannot be re-sent.
 */
export async function disableOffloads(ns: string, dev: string): Promise<void> {
  await nsRun(ns, tool('ethtool'), [
    '-K',
    dev,
    'tx',
    'off',
    'tso',
    'off',
    'gso',
    'off',
    'gro',
    'off',
  ])
}

/** A running delay line process (Python, AF_PACKET) between interfaces `a` and `b` of `ns`. */
export interface DelayLine {
  readonly pid: number
  readonly child: ChildProcess
  stop(): Promise<void>
}

/** Starts the delay line in `ns` bridging `a` (router side) and `b` (bridge side). */
export async function startDelayLine(
  ns: string,
  a: string,
  b: string,
  shape: LinkShape,
  tag: string,
): Promise<DelayLine> {
  const args = [
    DELAYLINE_SCRIPT,
    '--a', a, '--b', b,
    '--ab-ms', String(shape.upMs), '--ba-ms', String(shape.downMs),
    '--jitter-ms', String(shape.jitterMs ?? 0), '--loss', String(shape.loss ?? 0),
    '--tag', tag,
  ] // biome-ignore format: flag/value pairs
  const child = spawnInNamespace(ns, tool('python3'), args)
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000)
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new NatlabError('NATLAB_COMMAND', `delay line ${tag}: not ready ${err}`)),
      10_000,
    )
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new NatlabError('NATLAB_COMMAND', `delay line ${tag} exited ${code}: ${err}`))
    })
    jsonLines(child, (msg) => {
      if (msg.ready) {
        clearTimeout(timer)
        resolve()
      }
    })
  }).catch(async (e) => {
    await stopChild(child)
    throw e
  })
  return { pid: child.pid ?? -1, child, stop: () => stopChild(child, 2000) }
}
