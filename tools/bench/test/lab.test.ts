// `pnpm bench --lab`: the lab benchmark's output → bench-results.json's `lab` part → README.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { BenchCase, BenchP2pdResults } from '../../natlab/src/bench-p2pd.js'
import { keepConnectRows, labResults } from '../src/lab.js'
import { parseOptions } from '../src/options.js'
import { renderSection } from '../src/report.js'
import { type BenchResults, validate } from '../src/results.js'

const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixture.json'), 'utf8'),
) as BenchResults

const stats = (median: number, min: number, max: number, n = 3) => ({ median, min, max, n })
const kase = (c: Partial<BenchCase> & Pick<BenchCase, 'name' | 'runner'>): BenchCase => ({
  a: 'port-restricted-rst',
  b: 'open-drop',
  trials: 3,
  successes: 3,
  direct: 3,
  winners: {},
  timeToConnectMs: null,
  failures: [],
  ...c,
})

const raw: BenchP2pdResults = {
  startedAt: '2026-12-07T01:30:00.000Z',
  durationMs: 600_000,
  shape: { upMs: 25, downMs: 25 },
  congestionControl: 'bbr',
  start: { processToReadyMs: null, nodeStartMs: null },
  connect: [
    kase({
      name: 'punch (cone × cone)',
      runner: 'node-punch',
      b: 'port-restricted-drop',
      winners: { punch: 2 },
      successes: 2,
      timeToConnectMs: stats(1054, 1021, 1119, 2),
      failures: ['timeout'],
    }),
  ],
  throughput: [
    kase({ name: 'direct (TCP, B open)', runner: 'node-direct', mbitPerS: stats(100, 95, 107) }),
    kase({
      name: 'relayed (our TURN, same pair)',
      runner: 'node-turn',
      mbitPerS: stats(90, 80, 99),
    }),
    kase({ name: 'relayed (coturn, same pair)', runner: 'node-turn', mbitPerS: null }),
    kase({
      name: 'relayed (our TURN, cone × cone)',
      runner: 'node-turn',
      b: 'port-restricted-drop',
      mbitPerS: stats(120, 110, 130),
    }),
  ],
}

describe('pnpm bench --lab', () => {
  const lab = labResults(raw, { command: 'pnpm bench --lab', commit: 'abc', loadStart: [1, 2, 3] })

  it('keeps median, spread and counts, with throughput ratios to the direct pipe of the same pair', () => {
    expect(lab.uplinkDelayMs).toBe(25)
    expect(lab.connect[0]).toMatchObject({
      pair: 'port-restricted-rst × port-restricted-drop',
      winners: 'punch 2',
      figure: { median: 1054, min: 1021, max: 1119, n: 2, trials: 3 },
      failures: ['timeout'],
    })
    // Another pair's relayed row has no ratio: its path is not the direct pipe's.
    expect(lab.throughput.map((r) => r.figure?.ratio)).toEqual([
      undefined,
      0.9,
      undefined,
      undefined,
    ])
    expect(lab.throughput[2]?.figure).toBeNull()
  })

  it('renders its own tables after the loopback ones, and validates', () => {
    const results = { ...fixture, lab }
    expect(validate(results)).toEqual([])
    const section = renderSection(results)
    expect(section.startsWith(renderSection(fixture))).toBe(true)
    expect(section).toContain('25 ms each way on every router uplink (100 ms round trip')
    expect(section).toContain(
      '| punch (cone × cone) | port-restricted-rst × port-restricted-drop | punch 2 | 1,054 (1,021–1,119), 2/3 |',
    )
    expect(section).toContain(
      '| relayed (our TURN, same pair) | port-restricted-rst × open-drop | 90.0 (80.0–99.0), 3/3 · 0.90× |',
    )
    expect(section).toContain(
      '| relayed (coturn, same pair) | port-restricted-rst × open-drop | no figure (3/3 connected) |',
    )
    const bad = {
      ...lab,
      throughput: [{ ...lab.throughput[0]!, figure: { ...lab.throughput[0]!.figure!, min: 200 } }],
    }
    expect(validate({ ...fixture, lab: bad })).toHaveLength(1)
  })

  it('parses --lab and its counts', () => {
    expect(parseOptions(['--lab', '--lab-trials', '2', '--lab-delay', '10'])).toMatchObject({
      lab: true,
      labTrials: 2,
      labThroughputTrials: 3,
      labDelayMs: 10,
    })
    expect(() => parseOptions(['--lab-trials', '0'])).toThrow(/integer/)
    expect(parseOptions(['--lab']).labThroughputOnly).toBe(false)
    expect(parseOptions(['--lab', '--lab-throughput-only']).labThroughputOnly).toBe(true)
  })

  it('a throughput-only run keeps the earlier time-to-connect rows, dated', () => {
    const only = labResults(
      { ...raw, startedAt: '2026-12-08T00:00:00.000Z', connect: [] },
      { command: 'pnpm bench --lab --lab-throughput-only', commit: 'def', loadStart: [1, 1, 1] },
    )
    const merged = keepConnectRows(only, lab)
    expect(merged.connect).toEqual(lab.connect)
    expect(merged.connectDate).toBe(lab.date)
    expect(merged.throughput).toEqual(only.throughput)
    expect(merged.date).toBe('2026-12-08T00:00:00.000Z')
    expect(keepConnectRows(lab, merged)).toBe(lab) // a full run replaces everything
    expect(keepConnectRows(only, undefined).connect).toEqual([])
  })
})
