import { randomInt } from 'node:crypto'

/**
 * Local ports for the delta samples: runs of `runLength` consecutive ports, each run starting
 * at a random port of `range` far from the others. The runs separate *dependent* NATs
 * (local +1 → mapped +k) from the others; the jumps separate *independent* ones (mapped +k
 * whatever the local port) from *preserving* ones (mapped moves as far as the local port).
 */
export function deltaPortPlan(
  samples: number,
  runLength = 3,
  range: readonly [number, number] = [32768, 60999],
  random: (lo: number, hi: number) => number = randomInt,
): number[] {
  const [lo, hi] = range
  const out: number[] = []
  const runs = Math.ceil(samples / runLength)
  const slot = Math.floor((hi - lo + 1) / runs)
  for (let r = 0; r < runs; r++) {
    // One run per slice of the range, so two runs are never adjacent; slices in random order.
    const start = lo + r * slot + random(0, Math.max(1, slot - runLength))
    for (let i = 0; i < runLength && out.length < samples; i++) out.push(start + i)
  }
  // Shuffle the runs (not the ports inside a run) so jumps go both ways.
  const grouped: number[][] = []
  for (let i = 0; i < out.length; i += runLength) grouped.push(out.slice(i, i + runLength))
  for (let i = grouped.length - 1; i > 0; i--) {
    const j = random(0, i + 1)
    ;[grouped[i], grouped[j]] = [grouped[j] as number[], grouped[i] as number[]]
  }
  return grouped.flat()
}
