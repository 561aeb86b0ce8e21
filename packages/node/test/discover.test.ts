import { MemorySignalingHub, NatType } from '@p2pd/interface'
import { listInterfaces, probeAddresses } from '@p2pd/nat'
import { StunServer } from '@p2pd/stun'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode, stunInterfaces } from '../src/index.js'

describe('stunInterfaces', () => {
  const stun = new StunServer({ primaryHost: '127.0.0.1', alternateHost: '127.0.0.2' })
  beforeAll(() => stun.start())
  afterAll(() => stun.close())

  it('announces each routed address with the NAT observed in front of it', async () => {
    const local = probeAddresses(await listInterfaces(), 4).map((a) => a.address)
    const logs: string[] = []
    const discover = stunInterfaces({
      stunServers: [stun.primary],
      families: [4],
      log: (m) => logs.push(m),
    })
    const found = await discover(AbortSignal.timeout(5000))
    // Our own STUN server sees each address as it is: no NAT on this machine's interfaces.
    expect(found.map((i) => i.ext).sort()).toEqual(local.slice(0, 3).sort())
    for (const i of found) {
      expect(i.nic).toBe(i.ext)
      expect(i.nat.type).toBe(NatType.OpenInternet)
    }
    expect(logs.length).toBe(found.length)
  })

  it('feeds a node address that others can decode', async () => {
    const hub = new MemorySignalingHub()
    const node = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      interfaces: stunInterfaces({ stunServers: [stun.primary], families: [4] }),
    })
    try {
      await node.start()
      expect(node.address.ip4.every((i) => i.nat.type === NatType.OpenInternet)).toBe(true)
      expect(node.address.nodeId).toBe(node.nodeId)
    } finally {
      await node.stop()
    }
  })
})
