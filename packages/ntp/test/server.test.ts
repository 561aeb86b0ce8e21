import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { querySntp } from '../src/client.js'
import { decodePacket, encodePacket, refIdToString } from '../src/packet.js'
import { SntpServer } from '../src/server.js'
import { msToNtp } from '../src/timestamp.js'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c()
})

async function exchange(port: number, payload: Uint8Array, waitMs = 150): Promise<Buffer[]> {
  const s = createSocket('udp4')
  const got: Buffer[] = []
  s.on('message', (m) => got.push(m))
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))
  s.send(payload, port, '127.0.0.1')
  await new Promise((r) => setTimeout(r, waitMs))
  await new Promise<void>((r) => s.close(() => r()))
  return got
}

describe('SntpServer', () => {
  it('answers a mode-3 request with a mode-4 reply that echoes the origin', async () => {
    const server = new SntpServer({ stratum: 3, refId: 'TEST' })
    const { port } = await server.start()
    cleanup.push(() => server.close())
    const tx = msToNtp(Date.now())
    const [reply] = await exchange(
      port,
      encodePacket({ version: 3, mode: 3, poll: 6, transmitTimestamp: tx }),
    )
    const p = decodePacket(reply!)
    expect(p).toMatchObject({
      mode: 4,
      version: 3,
      stratum: 3,
      poll: 6,
      leap: 0,
      originTimestamp: tx,
    })
    expect(refIdToString(p.refId)).toBe('TEST')
    expect(server.answered).toBe(1)
  })

  it('ignores short packets, non-client modes and bad versions', async () => {
    const server = new SntpServer()
    const { port } = await server.start()
    cleanup.push(() => server.close())
    expect(await exchange(port, new Uint8Array(47).fill(0x23), 50)).toHaveLength(0)
    expect(await exchange(port, encodePacket({ mode: 4 }), 50)).toHaveLength(0)
    expect(await exchange(port, encodePacket({ mode: 3, version: 0 }), 50)).toHaveLength(0)
    expect(await exchange(port, encodePacket({ mode: 3, version: 5 }), 50)).toHaveLength(0)
    expect(server.answered).toBe(0)
  })

  it('bounds replies held back by an artificial delay', async () => {
    const server = new SntpServer({ wireDelayMs: 100, maxPending: 2 })
    const { port } = await server.start()
    cleanup.push(() => server.close())
    const s = createSocket('udp4')
    let got = 0
    s.on('message', () => got++)
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))
    for (let i = 0; i < 5; i++) s.send(encodePacket({ mode: 3, version: 4 }), port, '127.0.0.1')
    await new Promise((r) => setTimeout(r, 250))
    await new Promise<void>((r) => s.close(() => r()))
    expect(got).toBe(2)
  })

  it('binds IPv6 and random ports, and refuses a nonsense stratum', async () => {
    const a = new SntpServer({ host: '::1' })
    const b = new SntpServer({ host: '::1' })
    const [aa, ba] = await Promise.all([a.start(), b.start()])
    cleanup.push(
      () => a.close(),
      () => b.close(),
    )
    expect(aa.family).toBe(6)
    expect(aa.port).not.toBe(ba.port)
    await expect(querySntp(aa)).resolves.toMatchObject({ address: '::1' })
    expect(() => new SntpServer({ stratum: 0 })).toThrow(
      expect.objectContaining({ code: 'NTP_BAD_STRATUM' }),
    )
  })

  it('can be closed and started again', async () => {
    const server = new SntpServer()
    const first = await server.start()
    await server.close()
    await expect(querySntp(first, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'TIMEOUT' })
    const second = await server.start()
    cleanup.push(() => server.close())
    await expect(querySntp(second)).resolves.toBeDefined()
  })
})
