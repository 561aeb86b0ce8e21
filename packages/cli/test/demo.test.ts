import { describe, expect, it } from 'vitest'
import { demoCommand } from '../src/commands/demo.js'

describe('p2pd demo', () => {
  it('connects by every strategy on the embedded servers and verifies the data', async () => {
    const lines: string[] = []
    const code = await demoCommand(['--mb', '1'], (l) => lines.push(l))
    const text = lines.join('\n')
    expect(code, text).toBe(0)
    for (const strategy of ['direct', 'reverse', 'punch', 'turn']) {
      expect(text).toMatch(
        new RegExp(`^${strategy}\\s+${strategy}\\s+\\d+ ms\\s+\\d+ Mbit/s\\s+yes$`, 'm'),
      )
    }
    expect(text).toMatch(/^auto\s+\w+\s+\d+ ms\s+\d+ Mbit\/s\s+yes$/m)
    expect(text).toMatch(/all verified/)
  }, 60_000)
})
