import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startAedes } from '../src/aedes.js'
import { mqttAnswers } from '../src/mqtt-probe.js'

describe('startAedes', () => {
  it('serves MQTT over TCP and WebSocket on 127.0.0.1, and closes everything', async () => {
    const b = await startAedes({ ws: true })
    expect(b.url).toBe(`mqtt://127.0.0.1:${b.port}`)
    expect(b.wsUrl).toBe(`ws://127.0.0.1:${b.wsPort}`)
    // A generous probe timeout: the 500 ms default is for polling, and a loaded CI box is slow.
    expect(await mqttAnswers(b.port, '127.0.0.1', 10_000)).toBe(true)

    // A raw MQTT CONNECT over a WebSocket (subprotocol "mqtt") gets a CONNACK.
    const ws = new WebSocket(b.wsUrl as string, 'mqtt')
    const connack = await new Promise<Buffer>((resolve, reject) => {
      ws.once('error', reject)
      // aedes may write the CONNACK in several frames: collect until 4 bytes arrived.
      let got = Buffer.alloc(0)
      ws.on('message', (data) => {
        got = Buffer.concat([got, data as Buffer])
        if (got.length >= 4) resolve(got)
      })
      ws.once('open', () =>
        ws.send(
          Buffer.from([
            0x10, 0x10, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x0a, 0x00, 0x04,
            0x77, 0x73, 0x2d, 0x31,
          ]),
        ),
      )
    })
    expect([...connack.subarray(0, 4)]).toEqual([0x20, 0x02, 0x00, 0x00])

    const wsClosed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
    await b.close()
    await wsClosed
    expect(await mqttAnswers(b.port, '127.0.0.1', 200)).toBe(false)
  })

  it('starts without a WebSocket listener by default', async () => {
    const b = await startAedes()
    expect(b.wsUrl).toBeUndefined()
    await b.close()
    await b.close() // idempotent
  })
})
