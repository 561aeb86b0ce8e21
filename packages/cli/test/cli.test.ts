import { StunServer } from '@p2pd/stun'
import { FakeGateway } from '@p2pd/testkit/fake-gateway'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UsageError } from '../src/args.js'
import { addrCommand } from '../src/commands/addr.js'
import { mapCommand } from '../src/commands/map.js'
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

describe('p2pd map', () => {
  // A loopback PCP/NAT-PMP responder plays the gateway: never the real LAN's.
  let gw: FakeGateway
  beforeAll(async () => {
    gw = await FakeGateway.start({ externalAddress: '203.0.113.5' })
  })
  afterAll(() => gw.close())
  const args = (...more: string[]) => [
    '--gateway',
    '127.0.0.1',
    '--gateway-port',
    String(gw.port),
    '--method',
    'pcp,nat-pmp',
    ...more,
  ]

  it('maps, prints the grant, and releases it', async () => {
    const lines: string[] = []
    await mapCommand(args('--port', '4321'), (l) => lines.push(l))
    expect(lines[0]).toBe('gateway 127.0.0.1: trying pcp, nat-pmp…')
    expect(lines[1]).toMatch(
      /^mapped: tcp 127\.0\.0\.1:4321 → 203\.0\.113\.5:4321 \(pcp via 127\.0\.0\.1\) in \d+ ms, lifetime 3600 s$/,
    )
    expect(lines[2]).toBe('released')
    expect(gw.mappings.size).toBe(0)
  })

  it('--hold keeps the mapping until told to stop', async () => {
    const lines: string[] = []
    const stop = new AbortController()
    const done = mapCommand(
      args('--port', '4322', '--protocol', 'udp', '--hold', '--json'),
      (l) => lines.push(l),
      { hold: stop.signal },
    )
    await new Promise((r) => setTimeout(r, 200))
    expect(gw.mappings.size).toBe(1)
    expect(JSON.parse(lines[1] as string)).toMatchObject({
      method: 'pcp',
      protocol: 'udp',
      externalPort: 4322,
    })
    stop.abort()
    await done
    expect(lines.at(-1)).toBe('released')
    expect(gw.mappings.size).toBe(0)
  })

  it('rejects bad flags, and says what each method answered when none works', async () => {
    await expect(mapCommand([], () => {})).rejects.toBeInstanceOf(UsageError)
    await expect(mapCommand(args('--port', '1', '--protocol', 'sctp'), () => {})).rejects.toThrow(
      /protocol/,
    )
    await expect(mapCommand(['--port', '1', '--method', 'igd'], () => {})).rejects.toThrow(
      /--method/,
    )
    gw.refuseWith = 2
    await expect(mapCommand(args('--port', '4323'), () => {})).rejects.toMatchObject({
      code: 'PORTMAP_FAILED',
      message: expect.stringMatching(/pcp: .*NOT_AUTHORIZED; nat-pmp: .*NOT_AUTHORIZED/),
    })
    gw.refuseWith = 0
  })
})
