import { describe, expect, it } from 'vitest'
import { DISCOVERY_MS, discoveryBudgetMs, MAX_DISCOVERY_MS } from '../src/timing.js'

describe('discovery budget', () => {
  it('keeps the default on fast paths and grows with the round trip on slow ones', () => {
    expect(discoveryBudgetMs(0)).toBe(DISCOVERY_MS)
    expect(discoveryBudgetMs(50)).toBe(DISCOVERY_MS)
    // 200 ms to the server: the filtering window and nine serial samples need ~20 RTTs.
    expect(discoveryBudgetMs(200)).toBeGreaterThanOrEqual(20 * 200)
    expect(discoveryBudgetMs(200)).toBeLessThanOrEqual(MAX_DISCOVERY_MS)
    expect(discoveryBudgetMs(10_000)).toBe(MAX_DISCOVERY_MS)
  })
})
