import type { LinkShape } from './delayline.js'
import { NatlabError } from './errors.js'
import { tcpSimopen } from './runners/index.js'
import { assertSelfCheck, selfCheck } from './selfcheck.js'
import { Lab, type LabInfo, type LabPeer } from './topology.js'
import { runTrial } from './trial.js'

/** One case of a probe: a skew and whether the physics says it connects. */
export interface ProbeCase {
  readonly skewMs: number
  readonly expect: 'connect' | 'fail'
  readonly connected: boolean
  readonly ok: boolean
  readonly timeToConnectMs?: number
  readonly failureReason?: string
  readonly direct: boolean
}

export interface ProbeResult {
  readonly name: ProbeName
  readonly description: string
  readonly a: string
  readonly b: string
  readonly ok: boolean
  readonly cases: readonly ProbeCase[]
}

interface ProbeDef {
  readonly description: string
  readonly a: string
  readonly b: string
  readonly options: Record<string, unknown>
  readonly cases: readonly { skewMs: number; expect: 'connect' | 'fail' }[]
}

/**
 * The physics probes (plain TCP simultaneous open, no p2pd code). Skews are B's start minus
 * A's; the default delay line is 25 ms per router, so A↔B one-way is 50 ms.
 */
export const PROBES = {
  'simopen-drop': {
    description:
      'silent-drop EIM NATs: simultaneous open survives ±1 s skew (the early SYN dies quietly, the later one completes the open)',
    a: 'port-restricted-drop',
    b: 'port-restricted-drop',
    options: { retryOnRst: false, deadlineMs: 4000 },
    cases: [
      { skewMs: 1000, expect: 'connect' },
      { skewMs: -1000, expect: 'connect' },
    ],
  },
  'simopen-rst': {
    description:
      'RST NATs, no retry: connects at 0 skew, fails once the skew exceeds the one-way delay (the early SYN is answered by RST)',
    a: 'port-restricted-rst',
    b: 'port-restricted-rst',
    options: { retryOnRst: false, deadlineMs: 3000 },
    cases: [
      { skewMs: 0, expect: 'connect' },
      { skewMs: 250, expect: 'fail' },
      { skewMs: -250, expect: 'fail' },
    ],
  },
  'predict-seq': {
    description: 'port prediction (m2 + delta) against a sequential +1 NAT connects',
    a: 'sym-seq1-drop',
    b: 'port-restricted-drop',
    options: { deadlineMs: 3000 },
    cases: [{ skewMs: 0, expect: 'connect' }],
  },
  'predict-random': {
    description: 'the same prediction against a random-port NAT fails',
    a: 'sym-random-drop',
    b: 'port-restricted-drop',
    options: { deadlineMs: 2000 },
    cases: [{ skewMs: 0, expect: 'fail' }],
  },
} as const satisfies Record<string, ProbeDef>

export type ProbeName = keyof typeof PROBES
export const PROBE_NAMES = Object.keys(PROBES) as ProbeName[]

/** The peers a set of probes needs (two per probe, in order). */
export function probePeers(names: readonly ProbeName[]): string[] {
  return names.flatMap((n) => [PROBES[n].a, PROBES[n].b])
}

/** Runs probes on a lab built by {@link probePeers} (peers 2k, 2k+1 for the k-th probe). */
export async function runProbesOn(
  info: LabInfo,
  names: readonly ProbeName[],
  log: (m: string) => void = () => {},
): Promise<ProbeResult[]> {
  const results: ProbeResult[] = []
  for (const [k, name] of names.entries()) {
    const def: ProbeDef = PROBES[name]
    const a = info.peers[2 * k] as LabPeer
    const b = info.peers[2 * k + 1] as LabPeer
    const cases: ProbeCase[] = []
    for (const c of def.cases) {
      const r = await runTrial(info, tcpSimopen, a, b, { skewMs: c.skewMs, options: def.options })
      const connected = r.ok && r.direct
      cases.push({
        skewMs: c.skewMs,
        expect: c.expect,
        connected,
        ok: connected === (c.expect === 'connect'),
        timeToConnectMs: r.timeToConnectMs,
        failureReason: r.failureReason,
        direct: r.direct,
      })
    }
    const res: ProbeResult = {
      name,
      description: def.description,
      a: a.profile.name,
      b: b.profile.name,
      ok: cases.every((c) => c.ok),
      cases,
    }
    log(
      `${res.ok ? 'ok  ' : 'FAIL'} ${name}: ${cases
        .map(
          (c) =>
            `skew ${c.skewMs} ms → ${c.connected ? `connected (${c.timeToConnectMs} ms)` : `failed (${c.failureReason})`}, expected ${c.expect}`,
        )
        .join('; ')}`,
    )
    results.push(res)
  }
  return results
}

/** Builds a lab for the probes (delay line 25 ms per router by default), self-checks, runs them. */
export async function runProbes(
  names: readonly ProbeName[] = PROBE_NAMES,
  opts: { shape?: LinkShape; log?: (m: string) => void } = {},
): Promise<ProbeResult[]> {
  for (const n of names)
    if (!(n in PROBES))
      throw new NatlabError('NATLAB_USAGE', `unknown probe '${n}' (${PROBE_NAMES.join(', ')})`)
  const lab = await Lab.up({
    peers: probePeers(names),
    shape: opts.shape ?? { upMs: 25, downMs: 25 },
    log: opts.log,
  })
  try {
    assertSelfCheck(await selfCheck(lab.info, { log: opts.log }))
    return await runProbesOn(lab.info, names, opts.log)
  } finally {
    await lab.down()
  }
}
