import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'

/** A minimal MQTT 3.1.1 CONNECT (clean session, keepalive 10 s, random client id). */
function connectPacket(): Buffer {
  const clientId = Buffer.from(`probe-${randomBytes(6).toString('hex')}`)
  const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x0a])
  const payload = Buffer.concat([Buffer.from([0, clientId.length]), clientId])
  const remaining = variable.length + payload.length // < 128: one length byte
  return Buffer.concat([Buffer.from([0x10, remaining]), variable, payload])
}

/**
 * Readiness probe for an MQTT broker: a real MQTT 3.1.1 CONNECT over TCP; true when the broker
 * answers CONNACK with return code 0 (then DISCONNECT). Dependency-free, so the test kit does
 * not need an MQTT client library.
 */
export function mqttAnswers(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    let received = Buffer.alloc(0)
    const done = (ok: boolean) => {
      clearTimeout(timer)
      if (ok) socket.end(Buffer.from([0xe0, 0x00]))
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('error', () => done(false))
    socket.once('close', () => done(false))
    socket.once('connect', () => socket.write(connectPacket()))
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (received.length < 4) return
      done(received[0] === 0x20 && received[1] === 0x02 && received[3] === 0x00)
    })
  })
}
