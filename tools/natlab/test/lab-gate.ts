import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  defaultServers,
  isRoot,
  Lab,
  type LabInfo,
  type LabOptions,
  type LabPeer,
  listNamespaces,
  type P2pdNodeRunnerName,
  p2pdNodeRunner,
  p2pdServers,
  prefixOfNamespace,
  runTrial,
  type StrategyRunner,
  type TrialResult,
} from '../src/index.js'
import { srcFile } from '../src/node-in-ns.js'
import { bundled } from './bundle.js'

/**
 * The gate every lab test file opens with. The lab needs root on Linux (network namespaces,
 * nftables). Off CI without root, the suite is skipped and the reason is printed and put in its
 * title; in CI (`CI=true`) without root, a failing test says why instead: a lab test is never
 * silently skipped there. Returns the `describe` to declare the lab suite with.
 */
export function labSuite(what: string): (name: string, body: () => void) => void {
  const root = isRoot()
  const ci = process.env.CI === 'true'
  const why = `${what} skipped: they need root on Linux (network namespaces, nftables)`
  if (!root && !ci) console.warn(why)
  describe.runIf(!root && ci)(`${what}, in CI`, () => {
    it('runs as root (CI=true: the lab tests must not be skipped)', () => {
      expect.fail(`CI=true but not root: the ${what} cannot run`)
    })
  })
  return (name, body) => describe.skipIf(!root)(root ? `${name} (root)` : `${name} — ${why}`, body)
}

/** Hooks {@link useLab} runs around the lab's life, for what a file starts inside the lab. */
export interface UseLabHooks {
  /** After `Lab.up`, in the same `beforeAll` (e.g. read what a lab server printed). */
  readonly afterUp?: (lab: Lab) => Promise<void> | void
  /** Before `down()`: stop what the file started in the lab's namespaces. */
  readonly beforeDown?: () => Promise<void> | void
  /** After `down()`, before the leftover check (e.g. judge how a lab server exited). */
  readonly afterDown?: () => Promise<void> | void
  /** Bound on bringing the lab up plus `afterUp` (default 120 s). */
  readonly upTimeoutMs?: number
}

/** The lab of one suite, as {@link useLab} brought it up. */
export interface LabFixture {
  /** The running lab; throws outside the tests (before `beforeAll`, or when it failed). */
  readonly lab: Lab
  /** `lab.info`. */
  readonly info: LabInfo
  /** Peer `i`, in the order `opts.peers` gave. */
  readonly peer: (i: number) => LabPeer
}

/**
 * One lab for the enclosing suite: `Lab.up(opts)` in `beforeAll`; in `afterAll`, `down()` and
 * a check that no namespace of its run prefix is left behind. Files calling it are serial
 * (vitest.config.ts matches `useLab(`).
 */
export function useLab(opts: LabOptions, hooks: UseLabHooks = {}): LabFixture {
  let lab: Lab | undefined
  beforeAll(async () => {
    lab = await Lab.up(opts)
    await hooks.afterUp?.(lab)
  }, hooks.upTimeoutMs ?? 120_000)

  afterAll(async () => {
    // Lab.up tears down what it built when it fails: without a lab there is nothing to check.
    const prefix = lab?.prefix
    try {
      await hooks.beforeDown?.()
    } finally {
      await lab?.down()
    }
    try {
      await hooks.afterDown?.()
    } finally {
      if (prefix !== undefined) {
        const left = (await listNamespaces()).filter((ns) => prefixOfNamespace(ns) === prefix)
        expect(left).toEqual([])
      }
    }
  }, 60_000)

  const up = (): Lab => {
    if (!lab) throw new Error('the lab is not up (useLab: beforeAll has not run or failed)')
    return lab
  }
  return {
    get lab() {
      return up()
    },
    get info() {
      return up().info
    },
    peer: (i) => {
      const p = up().info.peers[i]
      if (!p) throw new Error(`no lab peer ${i}`)
      return p
    },
  }
}

/** Trials per cell of a lab test: `P2PD_LAB_TRIALS` when set, else `fallback`. */
export const labTrials = (fallback: number): number =>
  Number(process.env.P2PD_LAB_TRIALS ?? fallback)

/** {@link useLab} with the p2pd servers (STUN, SNTP, TURN) beside the defaults: for node runners. */
export function useNodeLab(peers: LabOptions['peers'], hooks?: UseLabHooks): LabFixture {
  return useLab({ peers, servers: [...defaultServers(), ...p2pdServers()] }, hooks)
}

/** A real p2pd node runner (`node-punch`, …), its program bundled (see bundle.ts). */
export const nodeRunner = (name: P2pdNodeRunnerName): Promise<StrategyRunner> =>
  bundled(p2pdNodeRunner(name), srcFile('runners/p2pd-node.ts'))

/** `n` trials of a real p2pd node runner (`node-punch`, …) from a to b, one after the other. */
export async function nodeTrials(
  info: LabInfo,
  runner: P2pdNodeRunnerName,
  a: LabPeer,
  b: LabPeer,
  n: number,
): Promise<TrialResult[]> {
  const r = await nodeRunner(runner)
  const runs: TrialResult[] = []
  for (let t = 0; t < n; t++) runs.push(await runTrial(info, r, a, b))
  return runs
}

/** What one side's node logged during a trial (the runner's events, oldest first). */
export const nodeLog = (r: TrialResult, side: 'a' | 'b'): string[] =>
  ((r[side].result?.detail as { events?: { m?: string }[] } | undefined)?.events ?? []).map(
    (e) => e.m ?? '',
  )
