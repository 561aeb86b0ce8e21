import { expect, it } from 'vitest'
import type { TrialResult } from '../src/index.js'
import { labSuite, labTrials, nodeLog, nodeTrials, useNodeLab } from './lab-gate.js'

/**
 * Dial first (`@p2pd/punch` flow/early.ts) through real NATs, 25 ms per router uplink: the
 * offerer's NAT answers refused SYNs with RST, the answerer's (port-preserving) drops them.
 * The offerer dials the ports it proposes before offering, the answerer takes them and dials
 * on receipt (plan lead 0), the offerer keeps the early socket — no meeting instant. Judged on
 * what the nodes logged (the mechanism), in at least 2 of 3 trials, and the fastest trial
 * under a hang bound only (a loaded machine inflates every CPU step; the lab bench gives the
 * figure). `P2PD_LAB_TRIALS` sets the trials.
 */
const labDescribe = labSuite('dial-first lab tests')
const trials = labTrials(3)

labDescribe('punch: dial first at 25 ms', () => {
  const lab = useNodeLab([
    { profile: 'port-restricted-rst', shape: { upMs: 25, downMs: 25 } },
    { profile: 'port-restricted-drop', shape: { upMs: 25, downMs: 25 } },
  ])
  const logged = nodeLog
  const dialledFirst = (r: TrialResult) =>
    r.ok &&
    r.direct &&
    r.winningStrategy === 'punch' &&
    logged(r, 'a').some((m) => /^punch: offerer dials first/.test(m)) &&
    logged(r, 'a').some((m) => /^punch: (early dials kept|connected before the answer)/.test(m)) &&
    logged(r, 'b').some((m) => /^punch: go plan, lead 0 ms/.test(m))

  it('crosses on the proposed ports without a meeting instant', async () => {
    const runs = await nodeTrials(lab.info, 'node-punch', lab.peer(0), lab.peer(1), trials)
    const ok = runs.filter(dialledFirst)
    const story = runs
      .map((r) =>
        dialledFirst(r)
          ? `dialled first, ${r.timeToConnectMs} ms`
          : `${r.failureReason ?? r.winningStrategy} | A: ${logged(r, 'a')
              .filter((m) => m.startsWith('punch'))
              .join('; ')} | B: ${logged(r, 'b')
              .filter((m) => m.startsWith('punch'))
              .join('; ')}`,
      )
      .join(' || ')
    console.log(`dial first at 25 ms: ${story}`)
    expect(ok.length, story).toBeGreaterThanOrEqual(Math.ceil((2 * trials) / 3))
    // A hang bound, on the fastest trial: quiet, it takes about half a second.
    expect(Math.min(...ok.map((r) => r.timeToConnectMs ?? Infinity))).toBeLessThan(5_000)
  }, 600_000)
})
