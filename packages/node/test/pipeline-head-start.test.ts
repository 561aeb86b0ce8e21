import type { PeerAddress, RawConnection, Strategy } from '@p2pd/interface'
import { describe, expect, it } from 'vitest'
import { runPipeline } from '../src/pipeline.js'

const peer = (machine: string): PeerAddress =>
  ({
    signal: [0],
    ip4: [],
    ip6: [],
    nodeId: `02${machine.repeat(64).slice(0, 64)}`,
    legacy: false,
    machineId: machine.repeat(64).slice(0, 64),
  }) as PeerAddress

const strategy = (name: string): Strategy =>
  ({ name, canTry: () => true, connect: () => new Promise(() => {}) }) as unknown as Strategy
const raw = { stream: { destroy() {} }, relayed: false } as unknown as RawConnection
const after = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A pipeline of direct, punch and turn where turn would connect at once: `direct` fails after
 * `directMs`, `punch` settles after `punchMs` (connects, or fails when `punchFails`).
 */
async function race(opts: { directMs: number; punchMs: number; punchFails?: boolean }) {
  const ac = new AbortController()
  return runPipeline({
    local: peer('a'),
    remote: peer('b'),
    strategies: [strategy('direct'), strategy('punch'), strategy('turn')],
    attempt: async (s) => {
      if (s.name === 'direct') {
        await after(opts.directMs)
        throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
      }
      if (s.name === 'punch') {
        await after(opts.punchMs)
        if (opts.punchFails) throw Object.assign(new Error('no crossing'), { code: 'PUNCH' })
      }
      return raw
    },
    secure: async () => ({ close() {} }) as never,
    signal: ac.signal,
    // Head starts far above the stage times: only a failure may start the next stage early.
    headStartMs: { direct: 20, punch: 10_000 },
  })
}

describe('pipeline head starts', () => {
  it('an earlier stage failing does not start the next one beside the latest (turn waits out the punch)', async () => {
    // Direct is refused at 50 ms, after the punch started (20 ms): turn must not start then,
    // or it connects at once and wins over the punch (300 ms).
    const { report } = await race({ directMs: 50, punchMs: 300 })
    expect(report.winner).toBe('punch')
    expect(report.stages.find((s) => s.strategy === 'turn')).toBeUndefined()
  })

  it('the latest stage failing starts the next one at once', async () => {
    const t0 = performance.now()
    const { report } = await race({ directMs: 50, punchMs: 100, punchFails: true })
    expect(report.winner).toBe('turn')
    // Well under the punch's 10 s head start, however loaded the machine.
    expect(performance.now() - t0).toBeLessThan(5_000)
    const turn = report.stages.find((s) => s.strategy === 'turn')
    const punch = report.stages.find((s) => s.strategy === 'punch')
    expect(turn?.startedMs).toBeGreaterThanOrEqual(punch?.endedMs ?? Number.POSITIVE_INFINITY)
  })

  it('a stage failing before its own head start is over starts the next one at once', async () => {
    // Direct fails at once (head start 20 ms): the punch starts on its failure.
    const { report } = await race({ directMs: 0, punchMs: 10 })
    expect(report.winner).toBe('punch')
    const direct = report.stages.find((s) => s.strategy === 'direct')
    const punch = report.stages.find((s) => s.strategy === 'punch')
    expect(punch?.startedMs).toBeGreaterThanOrEqual(direct?.endedMs ?? Number.POSITIVE_INFINITY)
  })
})
