import { Worker } from 'node:worker_threads'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StunTcpClient, StunUdpClient } from '../src/index.js'

/**
 * A STUN responder on its own thread (it answers while the test's event loop is blocked), over
 * UDP and TCP: on each Binding request it posts `got`, then answers `delayMs` later with a
 * Binding success (XOR-MAPPED-ADDRESS) and posts `answered`. It first posts its two ports.
 */
const RESPONDER = `
const { parentPort, workerData } = require('node:worker_threads')
const dgram = require('node:dgram')
const net = require('node:net')
const answer = (m, r) => {
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
  return out
}
const later = (send) => {
  parentPort.postMessage('got')
  setTimeout(() => send(() => parentPort.postMessage('answered')), workerData.delayMs)
}
const s = dgram.createSocket('udp4')
s.on('message', (m, r) => later((done) => s.send(answer(m, r), r.port, r.address, done)))
// Over TCP: 20-byte Binding requests (no attributes).
const t = net.createServer((c) => {
  let buf = Buffer.alloc(0)
  c.on('error', () => {})
  c.on('data', (d) => {
    buf = Buffer.concat([buf, d])
    while (buf.length >= 20) {
      const out = answer(buf.subarray(0, 20), { port: c.remotePort, address: c.remoteAddress })
      buf = buf.subarray(20)
      later((done) => c.write(out, done))
    }
  })
})
s.bind(0, '127.0.0.1', () =>
  t.listen(0, '127.0.0.1', () => parentPort.postMessage([s.address().port, t.address().port])),
)
`

describe('STUN clients on a starved event loop', () => {
  let worker: Worker
  let udpPort = 0
  let tcpPort = 0
  beforeAll(async () => {
    worker = new Worker(RESPONDER, { eval: true, workerData: { delayMs: 40 } })
    ;[udpPort, tcpPort] = await new Promise<[number, number]>((resolve) =>
      worker.once('message', resolve),
    )
  })
  afterAll(() => worker.terminate())

  /**
   * Holds this thread's event loop for 1.5 s from the moment the request arrived (in an I/O
   * callback, as a busy process would): the response lands ~40 ms in, the 100 ms deadline
   * expires meanwhile, and the next loop turn runs expired timers before it polls the socket.
   * Resolves once the response has been sent.
   */
  function starveOnRequest(): Promise<void> {
    return new Promise((resolve) => {
      const onMessage = (m: unknown) => {
        if (m === 'got') {
          const until = performance.now() + 1500
          while (performance.now() < until) {}
        } else if (m === 'answered') {
          worker.off('message', onMessage)
          resolve()
        }
      }
      worker.on('message', onMessage)
    })
  }

  it('UDP: reads a response already queued before the deadline calls it a timeout', async () => {
    const client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
    try {
      const answered = starveOnRequest()
      const r = await client.binding(
        { host: '127.0.0.1', port: udpPort },
        { timeoutMs: 100, rtoMs: 5000 },
      )
      await answered
      expect(r.mapped.port).toBe(client.local.port)
    } finally {
      await client.close()
    }
  })

  it('TCP: the same over a connection', async () => {
    const client = await StunTcpClient.connect({ host: '127.0.0.1', port: tcpPort })
    try {
      const answered = starveOnRequest()
      const r = await client.binding({ timeoutMs: 100 })
      await answered
      expect(r.mapped.port).toBe(client.local.port)
    } finally {
      await client.close()
    }
  })
})
