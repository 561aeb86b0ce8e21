import { isOpenNat, MemorySignalingHub, NatType } from '@p2pd/interface'
import { pcpClient } from '@p2pd/portmap'
import { FakeGateway } from '@p2pd/testkit/fake-gateway'
import { firstOf } from '@p2pd/testkit/pipes'
import { afterEach, describe, expect, it } from 'vitest'
import { ConnectError, createNode, direct, type P2pdNode } from '../src/index.js'

/**
 * Port mapping on loopback: a PCP responder plays the gateway, 127.0.0.2 plays the node's
 * public IP (the listener binds 0.0.0.0, so a peer reaches it there). The lab test
 * (test/lab-portmap.test.ts) does the same through real NATs and a real miniupnpd.
 */
const started: P2pdNode[] = []
const gateways: FakeGateway[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
  for (const g of gateways.splice(0)) g.close()
})

const portRestricted = { type: NatType.PortRestrictedCone, delta: { type: 2 as const, value: 0 } }

async function nodes(opts: { externalAddress: string }) {
  const hub = new MemorySignalingHub()
  const gw = await FakeGateway.start({ externalAddress: opts.externalAddress })
  gateways.push(gw)
  const logs: string[] = []
  const mapped = createNode({
    signaling: (id) => hub.connect(id.nodeId),
    interfaces: [{ ext: '127.0.0.2', nic: '127.0.0.1', nat: portRestricted }],
    portMapping: { clients: [pcpClient({ gateway: '127.0.0.1', port: gw.port })] },
    machineId: 'a'.repeat(64),
    log: (m) => logs.push(m),
  })
  const dialer = createNode({
    signaling: (id) => hub.connect(id.nodeId),
    interfaces: [{ ext: '127.0.0.3', nic: '127.0.0.1', nat: portRestricted }],
    machineId: 'b'.repeat(64),
  })
  started.push(mapped, dialer)
  await Promise.all([mapped.start(), dialer.start()])
  return { mapped, dialer, gw, logs }
}

describe('node: port mapping', () => {
  it('announces the mapped port as an open entry, connects directly, releases on stop', async () => {
    const { mapped, dialer, gw } = await nodes({ externalAddress: '127.0.0.2' })
    const entries = mapped.address.ip4
    expect(entries).toHaveLength(2)
    expect(isOpenNat(entries[0]!.nat)).toBe(false)
    expect(entries[1]).toMatchObject({
      ext: '127.0.0.2',
      nic: '127.0.0.2',
      netifaceIndex: entries[0]!.netifaceIndex,
    })
    expect(isOpenNat(entries[1]!.nat)).toBe(true)
    expect(entries[1]!.port).toBe(mapped.portMapping?.external.port)
    expect(mapped.portMapping?.method).toBe('pcp')
    expect(gw.mappings.size).toBe(1)

    // Only the mapping makes the port-restricted node reachable: direct alone must win.
    const [pipe, inbound] = await Promise.all([
      dialer.connect(mapped.addressText, { strategies: [direct()] }),
      firstOf(mapped.incoming),
    ])
    expect(pipe.path.remote).toMatchObject({ host: '127.0.0.2', port: entries[1]!.port })
    expect(inbound.remotePeer).toBe(dialer.nodeId)
    await pipe.close()

    await mapped.stop()
    expect(gw.mappings.size).toBe(0)
  })

  it('does not announce a mapping whose external IP STUN does not see (a NAT above the gateway)', async () => {
    const { mapped, dialer, logs } = await nodes({ externalAddress: '100.64.0.7' })
    expect(mapped.portMapping?.external.host).toBe('100.64.0.7')
    expect(mapped.address.ip4).toHaveLength(1)
    expect(logs.join('\n')).toMatch(/not announced: STUN sees 127\.0\.0\.2/)
    const err = await dialer
      .connect(mapped.addressText, { strategies: [direct()], timeoutMs: 3000 })
      .catch((e) => e)
    expect(err).toBeInstanceOf(ConnectError)
  })

  it('starts without a mapping when the gateway is silent, within its budget', async () => {
    const hub = new MemorySignalingHub()
    const gw = await FakeGateway.start()
    gateways.push(gw)
    gw.silent = true
    const node = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      interfaces: [{ ext: '127.0.0.2', nic: '127.0.0.1', nat: portRestricted }],
      portMapping: {
        clients: [pcpClient({ gateway: '127.0.0.1', port: gw.port })],
        timeoutMs: 500,
      },
    })
    started.push(node)
    const t0 = Date.now()
    await node.start()
    expect(Date.now() - t0).toBeLessThan(1500)
    expect(node.portMapping).toBeUndefined()
    expect(node.address.ip4).toHaveLength(1)
  })

  it('re-announces when a renewal finds the port moved', async () => {
    const { mapped, gw } = await nodes({ externalAddress: '127.0.0.2' })
    const before = mapped.address.ip4[1]!.port
    gw.mappings.clear()
    const opts = gw as unknown as { options: { taken: number[]; maxLifetime: number } }
    opts.options.taken = [before]
    const changed = new Promise<string>((resolve) => mapped.once('address', resolve))
    await mapped.portMapping!.refresh()
    await changed
    expect(mapped.address.ip4[1]!.port).toBe(before + 1)
  })
})
