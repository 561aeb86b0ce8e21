import { StunServer } from '@p2pd/stun'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UsageError } from '../src/args.js'
import { addrCommand } from '../src/commands/addr.js'
import { natCommand } from '../src/commands/nat.js'
import { renderTable } from '../src/table.js'

describe('p2pd nat', () => {
  const stun = new StunServer({ primaryHost: '127.0.0.1', alternateHost: '127.0.0.2' })
  beforeAll(() => stun.start())
  afterAll(() => stun.close())

  it('classifies loopback as open internet over UDP and TCP, with timings', async () => {
    const lines: string[] = []
    await natCommand(['--server', `127.0.0.1:${stun.primary.port}`, '--local', '127.0.0.1'], (l) =>
      lines.push(l),
    )
    const text = lines.join('\n')
    expect(text).toMatch(/^UDP: open internet \(type 1\)/m)
    expect(text).toMatch(/^TCP: open internet \(type 1\)/m)
    expect(text).toMatch(/peer address: open internet \(type 1\)/)
    expect(text).toMatch(/timings\s+total \d+ ms/)
  })

  it('refuses to run without a server, and rejects unknown transports', async () => {
    await expect(natCommand([], () => {})).rejects.toBeInstanceOf(UsageError)
    await expect(
      natCommand(['--server', '127.0.0.1:1', '--transport', 'sctp'], () => {}),
    ).rejects.toThrow(/transport/)
  })
})

describe('p2pd addr', () => {
  it('explains P2PD’s documented address', () => {
    const lines: string[] = []
    addrCommand(['0,1-[1,0,8.8.8.8,192.168.21.21,58959,3,2,0]-0-zmUGXPOFxUBuToh-easdasd'], (l) =>
      lines.push(l),
    )
    expect(lines[0]).toMatch(/zmUGXPOFxUBuToh.*legacy/)
    expect(lines.join('\n')).toMatch(
      /ext 8\.8\.8\.8 {2}nic 192\.168\.21\.21 {2}port 58959 {2}\(full cone/,
    )
  })
})

describe('renderTable', () => {
  it('aligns columns under a rule', () => {
    expect(renderTable(['a', 'bb'], [['xxx', 'y']])).toBe('a    bb\n───  ──\nxxx  y')
  })
})
