import { Worker } from 'node:worker_threads'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StunUdpClient } from '../src/index.js'

/**
 * A STUN responder on its own thread (so it answers while the test's event loop is blocked):
 * a Binding success with XOR-MAPPED-ADDRESS, `delayMs` after each request; it posts its port,
 * then `answered` per response.
 */
const RESPONDER = `
const { parentPort, workerData } = require('node:worker_threads')
const dgram = require('node:dgram')
const s = dgram.createSocket('udp4')
s.on('message', (m, r) => {
  const out = Buffer.alloc(32)
  out.writeUInt16BE(0x0101, 0)
  out.writeUInt16BE(12, 2)
  m.copy(out, 4, 4, 20)
  out.writeUInt16BE(0x0020, 20)
  out.writeUInt16BE(8, 22)
  out.writeUInt8(1, 25)
  out.writeUInt16BE(r.port ^ 0x2112, 26)
  const ip = r.address.split('.').reduce((a, b) => a * 256 + Number(b), 0)
  out.writeUInt32BE((ip ^ 0x2112a442) >>> 0, 28)
  setTimeout(() => s.send(out, r.port, r.address, () => parentPort.postMessage('answered')), workerData.delayMs)
})
s.bind(0, '127.0.0.1', () => parentPort.postMessage(s.address().port))
`

describe('StunUdpClient on a starved event loop', () => {
  let worker: Worker
  let port = 0
  beforeAll(async () => {
    worker = new Worker(RESPONDER, { eval: true, workerData: { delayMs: 40 } })
    port = await new Promise<number>((resolve) => worker.once('message', resolve))
  })
  afterAll(() => worker.terminate())

  it('reads a response already queued before it lets the deadline call it a timeout', async () => {
    const client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
    try {
      const answered = new Promise((resolve) => worker.once('message', resolve))
      // The loop is held from 20 ms to 1.5 s: the response lands at ~40 ms and the 100 ms
      // deadline expires meanwhile. On release, libuv runs expired timers before polling.
      setTimeout(() => {
        const until = performance.now() + 1500
        while (performance.now() < until) {}
      }, 20)
      const r = await client.binding({ host: '127.0.0.1', port }, { timeoutMs: 100, rtoMs: 5000 })
      await answered
      expect(r.mapped.port).toBe(client.local.port)
    } finally {
      await client.close()
    }
  })
})
