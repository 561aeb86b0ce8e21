import { StunServer } from '@p2pd/stun'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { natCommand } from '../src/commands/nat.js'

describe('p2pd nat over IPv6', () => {
  // IPv6 has one loopback address: the alternate is an IPv4-mapped one, so the server's
  // change-IP dial-backs cannot reach ::1 and the filtering reads as filtered here.
  const stun = new StunServer({ primaryHost: '::1', alternateHost: '::ffff:127.0.0.2' })
  beforeAll(() => stun.start())
  afterAll(() => stun.close())

  it('probes IPv6 when every server is an IPv6 literal, and says there is no translation', async () => {
    const lines: string[] = []
    const code = await natCommand(['--server', `[::1]:${stun.primary.port}`], (l) => lines.push(l))
    const text = lines.join('\n')
    expect(code).toBe(0)
    expect(text).toMatch(/^UDP: .*\(type [12]\)/m)
    expect(text).toMatch(/mapped {5}::1:\d+ from/)
    expect(text).toMatch(/mapping {4}none/)
    expect(text).toMatch(/peer address: .*\(type [12]\).*, IPv6 — \d+ ms in all/)
    expect(text).toMatch(/^no translation \(mapped = local ::1\): inbound TCP is (open|filtered)/m)
  })

  it('takes --family, and a family no server has fails as a usage-level error', async () => {
    const lines: string[] = []
    await natCommand(
      ['--server', `[::1]:${stun.primary.port}`, '--family', '6', '--transport', 'tcp'],
      (l) => lines.push(l),
    )
    expect(lines.join('\n')).toMatch(/^TCP: .*\n {2}mapped {5}::1:/m)
    expect(lines.join('\n')).toMatch(/^no translation/m)
    await expect(
      natCommand(['--server', `[::1]:${stun.primary.port}`, '--family', '5'], () => {}),
    ).rejects.toThrow(/--family/)
    await expect(
      natCommand(['--server', `[::1]:${stun.primary.port}`, '--family', '4'], () => {}),
    ).rejects.toThrow(/IPv4/)
  })
})
