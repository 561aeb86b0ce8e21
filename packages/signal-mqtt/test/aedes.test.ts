import { generateIdentity } from '@p2pd/identity'
import { AbortError, isP2pdError, TimeoutError } from '@p2pd/interface'
import { freePort } from '@p2pd/testkit'
import { type AedesBroker, startAedes } from '@p2pd/testkit/aedes'
import { signalingCompliance } from '@p2pd/testkit/signaling-compliance'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mqttSignaling, type SignalingError } from '../src/index.js'
import { collect, node, until } from './helpers.js'

// In-process aedes brokers (MQTT 3.1.1 only: exercises the fallback from MQTT 5), one of them
// also serving MQTT over WebSocket on 127.0.0.1.
let tcp: AedesBroker
let ws: AedesBroker

beforeAll(async () => {
  tcp = await startAedes()
  ws = await startAedes({ ws: true })
})
afterAll(async () => {
  await Promise.all([tcp?.close(), ws?.close()])
})

signalingCompliance('MqttSignaling over aedes (mqtt:// and ws://)', async () => {
  const brokers = [tcp.url, ws.wsUrl as string]
  const a = node(brokers, { quorum: 2 })
  const b = node(brokers, { quorum: 2 })
  await Promise.all([a.start(), b.start()])
  return {
    a,
    b,
    aId: a.nodeId,
    bId: b.nodeId,
    dispose: async () => {
      await Promise.all([a.close(), b.close()])
    },
  }
})

/** Open client sockets and timers of this process. */
function handles(): { sockets: number; timers: number } {
  const kinds = process.getActiveResourcesInfo()
  return {
    sockets: kinds.filter((k) => k === 'TCPSocketWrap').length,
    timers: kinds.filter((k) => k === 'Timeout').length,
  }
}

describe('MqttSignaling over aedes', () => {
  it('falls back to MQTT 3.1.1 when the broker refuses 5, over TCP and WebSocket', async () => {
    const brokers = [tcp.url, ws.wsUrl as string]
    const a = node(brokers, { quorum: 2 })
    const b = node([ws.wsUrl as string])
    await Promise.all([a.start(), b.start()])
    try {
      expect(a.health().map((h) => h.protocolVersion)).toEqual([4, 4])
      expect(a.health().every((h) => h.subscribed)).toBe(true)
      const atB = collect(b)
      // b's list has the ws broker at offset 0, a's at offset 1: offsets are list indexes.
      await a.publish({ nodeId: b.nodeId, signal: [1] }, { type: 'app/ws', body: 'over ws' })
      await until(() => atB.length === 1, 5_000, 'message over ws')
      expect(atB[0]?.from).toBe(a.nodeId)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('start() resolves on quorum and keeps trying the rest in the background', async () => {
    const dead = `mqtt://127.0.0.1:${await freePort()}`
    const before = handles()
    const s = node([tcp.url, dead])
    await s.start()
    try {
      expect(s.offsets).toEqual([0])
      await until(() => (s.health()[1]?.failures ?? 0) >= 2, 5_000, 'retries')
      expect(s.health()[1]?.state).not.toBe('connected')
      expect(s.health()[1]?.lastError).toMatch(/ECONNREFUSED/)
    } finally {
      await s.close()
    }
    // Every socket and timer is released (the broker's side of the socket closes a bit later).
    await until(
      () => handles().sockets <= before.sockets && handles().timers <= before.timers,
      2_000,
      'sockets and timers released',
    )
  })

  it('start() fails typed on its deadline or abort, and releases everything', async () => {
    const dead = `mqtt://127.0.0.1:${await freePort()}`
    const s = node([dead], { startTimeoutMs: 300 })
    await expect(s.start()).rejects.toBeInstanceOf(TimeoutError)
    expect(s.health()).toEqual([])
    const ctrl = new AbortController()
    const pending = s.start({ signal: ctrl.signal })
    ctrl.abort()
    await expect(pending).rejects.toBeInstanceOf(AbortError)
    await s.close()
    await expect(s.start()).rejects.toSatisfy((e) => isP2pdError(e, 'SIGNALING_CLOSED'))
  })

  it('refuses bad options, early publishes, bad targets and bad messages, typed', async () => {
    const identity = generateIdentity()
    const code = (fn: () => unknown) => {
      try {
        fn()
      } catch (e) {
        return (e as SignalingError).code
      }
    }
    expect(code(() => mqttSignaling({ identity, brokers: [] }))).toBe('SIGNALING_BAD_OPTIONS')
    expect(code(() => mqttSignaling({ identity, brokers: ['http://x'] }))).toBe(
      'SIGNALING_BAD_OPTIONS',
    )
    expect(code(() => mqttSignaling({ identity, brokers: [tcp.url], connectTo: [3] }))).toBe(
      'SIGNALING_BAD_OPTIONS',
    )
    expect(mqttSignaling({ identity }).brokers).toHaveLength(15) // the default list, unused
    expect(mqttSignaling({ identity }).topic).toBe(`p2pd/v1/${identity.nodeId}`)

    const s = node([tcp.url], { identity })
    const peer = generateIdentity().nodeId
    const err = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e) => (e as SignalingError).code,
      )
    expect(await err(s.publish({ nodeId: peer }, { type: 'app/x', body: 1 }))).toBe(
      'SIGNALING_NOT_STARTED',
    )
    await s.start()
    try {
      expect(await err(s.publish({ nodeId: 'abc' }, { type: 'app/x', body: 1 }))).toBe(
        'SIGNALING_BAD_TARGET',
      )
      expect(await err(s.publish({ nodeId: peer }, { type: 'nope', body: 1 }))).toBe(
        'SIGNALING_BAD_MESSAGE',
      )
      expect(
        await err(s.publish({ nodeId: peer }, { type: 'reverse/request', body: { token: 1 } })),
      ).toBe('SIGNALING_BAD_MESSAGE')
      expect(
        await err(s.publish({ nodeId: peer }, { type: 'app/x', body: 'x'.repeat(8_000) }, {})),
      ).toBeUndefined() // under the 8 KiB app cap and the 16 KiB envelope cap
      // A recipient we share no broker with: published through our own broker anyway.
      expect(await err(s.publish({ nodeId: peer, signal: [7] }, { type: 'app/x', body: 1 }))).toBe(
        undefined,
      )
      expect(s.metrics.published).toBe(2)
    } finally {
      await s.close()
    }
    expect(s.health()).toEqual([])
  })

  it('a reverse/request body from @p2pd/node reaches the peer intact', async () => {
    const a = node([tcp.url])
    const b = node([tcp.url])
    await Promise.all([a.start(), b.start()])
    try {
      const atB = collect(b)
      const body = {
        token: 'ab'.repeat(16),
        address: '0,1-[0,0,1.2.3.4,10.0.0.2,4000,3,2,0]-0-x-m',
      }
      await a.publish({ nodeId: b.nodeId, signal: b.offsets }, { type: 'reverse/request', body })
      await until(() => atB.length === 1, 5_000, 'reverse/request')
      expect(atB[0]?.message).toEqual({ type: 'reverse/request', body })
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})
