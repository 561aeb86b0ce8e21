import { expect, it } from 'vitest'
import type { TrialResult } from '../src/index.js'
import { labSuite, labTrials, nodeLog, nodeTrials, useNodeLab } from './lab-gate.js'

/**
 * Hole punching at every distance, with a real p2pd node per side (`node-punch`) in the NAT
 * lab (root). Each cell must punch — connected, verified direct by the lab (observed addresses
 * and conntrack), strategy `punch` — in at least 4 of 5 trials:
 *
 * - port-restricted cones that answer unsolicited SYNs with RST on both sides, ~0 ms between
 *   them: the peer's RST comes back before its own SYN leaves, so only a fast retry crosses;
 * - the same NATs on an asymmetric path (5 ms on one uplink, 80 ms ± 5 ms jitter on the other);
 * - two sequential-symmetric NATs (+1) with RST, 25 ms per uplink: each side predicts its own
 *   next mappings and announces them, the other aims there;
 * - a port-restricted cone against a sequential-symmetric NAT, RST on both, 5 ms per uplink:
 *   the cone fast-retries to every predicted port, the sequential side spends one per attempt;
 * - two sequential-symmetric NATs with RST at 5 ms per uplink: one SYN per predicted port
 *   each, so the pairs must sweep the clocks' disagreement (a 10 ms window, not 50);
 * - a random-symmetric NAT against a port-restricted cone, RST on both, 5 ms per uplink: a
 *   birthday spray where each random mapping lives one 20 ms round trip (the cone's RST
 *   closes it), so the random side re-dials at once and the cone sends ~3,700 probes.
 *
 * One shared lab, on disjoint peers: the two CPU-bound cells one at a time, then the others in
 * parallel. `P2PD_LAB_TRIALS` sets trials
 * per cell (default 5; the floor stays 80 %); `P2PD_LAB_PARALLEL=1` runs the cells one after
 * the other (a machine so loaded that ten node processes take over 40 s to start).
 */
const labDescribe = labSuite('punch lab tests')

const trials = labTrials(5)
const parallel = Math.max(1, Number(process.env.P2PD_LAB_PARALLEL ?? 6))

// Peers by index; each cell uses its own two.
const PEERS = [
  { profile: 'port-restricted-rst' }, // 0: no delay line
  { profile: 'port-restricted-rst' }, // 1
  { profile: 'port-restricted-rst', shape: { upMs: 5, downMs: 5 } }, // 2
  { profile: 'port-restricted-rst', shape: { upMs: 80, downMs: 80, jitterMs: 5 } }, // 3
  { profile: 'sym-seq1-rst', shape: { upMs: 25, downMs: 25 } }, // 4
  { profile: 'sym-seq1-rst', shape: { upMs: 25, downMs: 25 } }, // 5
  { profile: 'port-restricted-rst', shape: { upMs: 5, downMs: 5 } }, // 6
  { profile: 'sym-seq1-rst', shape: { upMs: 5, downMs: 5 } }, // 7
  { profile: 'sym-seq1-rst', shape: { upMs: 5, downMs: 5 } }, // 8
  { profile: 'sym-seq1-rst', shape: { upMs: 5, downMs: 5 } }, // 9
  { profile: 'sym-random-rst', shape: { upMs: 5, downMs: 5 } }, // 10
  { profile: 'port-restricted-rst', shape: { upMs: 5, downMs: 5 } }, // 11
] as const

const CELLS = [
  // Alone: at ~0 ms the crossing window is microseconds of kernel time, and it needs both
  // peers running at once on different CPUs; beside other cells it punched 2-4 of 5.
  { name: 'port-restricted-rst × port-restricted-rst, ~0 ms', a: 0, b: 1, alone: true },
  { name: 'port-restricted-rst × port-restricted-rst, 5 ms × 80±5 ms', a: 2, b: 3 },
  { name: 'sym-seq1-rst × sym-seq1-rst, 25 ms', a: 4, b: 5 },
  { name: 'port-restricted-rst × sym-seq1-rst, 5 ms', a: 6, b: 7 },
  { name: 'sym-seq1-rst × sym-seq1-rst, 5 ms', a: 8, b: 9 },
  // Alone: the spray's thousands of SYNs a second are CPU-bound on a loaded host.
  { name: 'sym-random-rst × port-restricted-rst, 5 ms (spray)', a: 10, b: 11, alone: true },
] as const

labDescribe('punch at every distance', () => {
  const lab = useNodeLab(PEERS.map((p) => ({ ...p })))
  const { peer } = lab

  const punched = (r: TrialResult) => r.ok && r.direct && r.winningStrategy === 'punch'
  /** The punch's outcome events a side logged (attempts, RSTs), for failure messages. */
  const punchEvents = (r: TrialResult, side: 'a' | 'b') =>
    nodeLog(r, side)
      .filter((m) => /^punch \{"type":"(connected|failed)"/.test(m))
      .map((m) => m.slice(6))
  const describeRun = (r: TrialResult) =>
    punched(r)
      ? `punched in ${r.timeToConnectMs} ms`
      : `${r.ok ? `${r.winningStrategy} ${r.path}` : r.failureReason} ${punchEvents(r, 'a')} ${punchEvents(r, 'b')} ${r.a.protocolError ?? ''} ${r.a.stderr?.slice(-300) ?? ''}`

  it('punches RST×RST at ~0 ms, on an asymmetric jittered path, sequential×sequential, cone×sequential and random×cone', async () => {
    const cell = async (c: (typeof CELLS)[number]) => {
      const runs = await nodeTrials(lab.info, 'node-punch', peer(c.a), peer(c.b), trials)
      return { ...c, runs }
    }
    const results: Awaited<ReturnType<typeof cell>>[] = []
    for (const c of CELLS.filter((c) => 'alone' in c)) results.push(await cell(c))
    const together = CELLS.filter((c) => !('alone' in c))
    for (let k = 0; k < together.length; k += parallel)
      results.push(...(await Promise.all(together.slice(k, k + parallel).map(cell))))
    for (const c of results) {
      const n = c.runs.filter(punched).length
      console.log(`${c.name}: punched ${n}/${c.runs.length}`)
    }
    for (const c of results) {
      const n = c.runs.filter(punched).length
      expect(n, `${c.name}: ${c.runs.map(describeRun).join(' | ')}`).toBeGreaterThanOrEqual(
        Math.ceil(c.runs.length * 0.8),
      )
    }
  }, 900_000)
})
