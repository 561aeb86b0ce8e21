import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PortMapError } from '../src/errors.js'
import { findGateway, parseRouteTable, pickGateway } from '../src/gateway.js'

// A real table's shape: default via 192.168.1.1 on eth0, a LAN, and a lab route via 10.1.0.1.
const TABLE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
eth1\t000012C6\t0100010A\t0003\t0\t0\t0\t0000FEFF\t0\t0\t0
`

describe('gateway from the routing table', () => {
  it('parses gateway routes only and picks by destination', () => {
    const routes = parseRouteTable(TABLE)
    expect(routes.map((r) => r.gateway)).toEqual(['192.168.1.1', '10.1.0.1'])
    expect(pickGateway(routes)?.gateway).toBe('192.168.1.1')
    expect(pickGateway(routes, '198.18.0.10')?.gateway).toBe('10.1.0.1')
    expect(pickGateway(routes, '8.8.8.8')?.gateway).toBe('192.168.1.1')
  })

  it('finds it from a file, and says so when there is none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pd-route-'))
    writeFileSync(join(dir, 'route'), TABLE)
    expect(await findGateway({ routeFile: join(dir, 'route'), towards: '198.18.0.10' })).toBe(
      '10.1.0.1',
    )
    writeFileSync(join(dir, 'empty'), TABLE.split('\n')[0] as string)
    await expect(findGateway({ routeFile: join(dir, 'empty') })).rejects.toMatchObject({
      code: 'PORTMAP_NO_GATEWAY',
    })
    await expect(findGateway({ routeFile: join(dir, 'missing') })).rejects.toMatchObject({
      code: 'PORTMAP_NO_GATEWAY',
    })
  })

  it('fuzz: any text parses or throws PortMapError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), fc.boolean(), (body, withHeader) => {
        try {
          const text = (withHeader ? `${TABLE.split('\n')[0]}\n` : '') + body
          for (const r of parseRouteTable(text)) expect(r.gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
        } catch (err) {
          expect(err).toBeInstanceOf(PortMapError)
        }
      }),
    )
  })
})
