import { randomBytes } from 'node:crypto'
import { abortReason } from '@p2pd/interface'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { MAX_RECORD_BYTES } from './record.js'

// One short MQTT session per broker per operation: names are published and looked up rarely,
// so a long-lived connection per broker would cost more than it saves.

// MQTT 3.1.1 CONNACK 1 and MQTT 5 reason 0x84: "unsupported protocol version".
const PROTOCOL_REFUSED = new Set([1, 0x84])

/** The broker will not send us packets bigger than this (MQTT 5 Maximum Packet Size). */
const MAX_PACKET = MAX_RECORD_BYTES + 512

/** An open session and the MQTT level it speaks. */
export interface BrokerSession {
  readonly client: MqttClient
  readonly version: 4 | 5
}

function connectOnce(
  url: string,
  version: 4 | 5,
  signal: AbortSignal,
  mqttOptions: IClientOptions | undefined,
): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    const client = mqtt.connect(url, {
      protocolVersion: version,
      clientId: `p2pd-name-${randomBytes(6).toString('hex')}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...(version === 5 ? { properties: { maximumPacketSize: MAX_PACKET } } : {}),
      ...mqttOptions,
    })
    let lastError: Error | undefined
    const done = () => {
      signal.removeEventListener('abort', onAbort)
      client.off('connect', onConnect)
      client.off('close', onClose)
    }
    const onAbort = () => {
      done()
      client.end(true)
      reject(abortReason(signal))
    }
    const onConnect = () => {
      done()
      resolve(client)
    }
    const onClose = () => {
      done()
      client.end(true)
      reject(lastError ?? new Error(`${url}: connection closed`))
    }
    client.on('error', (err) => {
      lastError = err
    })
    client.once('connect', onConnect)
    client.once('close', onClose)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Connects to a broker with MQTT 5, or 3.1.1 when the broker refuses 5. The caller bounds it
 * with `signal` and must `client.end(true)` when done.
 */
export async function openSession(
  url: string,
  signal: AbortSignal,
  mqttOptions?: IClientOptions,
): Promise<BrokerSession> {
  try {
    return { client: await connectOnce(url, 5, signal, mqttOptions), version: 5 }
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code !== 'number' || !PROTOCOL_REFUSED.has(code)) throw err
    return { client: await connectOnce(url, 4, signal, mqttOptions), version: 4 }
  }
}

/** Runs `fn` with an open session; the session is closed whatever happens. */
export async function withSession<T>(
  url: string,
  signal: AbortSignal,
  mqttOptions: IClientOptions | undefined,
  fn: (session: BrokerSession) => Promise<T>,
): Promise<T> {
  const session = await openSession(url, signal, mqttOptions)
  try {
    return await fn(session)
  } finally {
    session.client.end(true)
  }
}

/**
 * Rejects with the signal's reason when it aborts, or with an error when the connection
 * closes; so an operation on a session never waits on a dead broker.
 */
export function untilLost(
  session: BrokerSession,
  signal: AbortSignal,
): {
  promise: Promise<never>
  dispose: () => void
} {
  let dispose = () => {}
  const promise = new Promise<never>((_, reject) => {
    const onAbort = () => reject(abortReason(signal))
    const onClose = () => reject(new Error('broker connection closed'))
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    session.client.once('close', onClose)
    dispose = () => {
      signal.removeEventListener('abort', onAbort)
      session.client.off('close', onClose)
    }
  })
  promise.catch(() => {})
  return { promise, dispose }
}

/**
 * The record retained on `topic`, or undefined when the broker holds none. Knows when the
 * retained messages are over: it subscribes to `topic` and a fresh probe topic, then
 * publishes to the probe; brokers deliver a subscription's retained messages before they
 * handle the next packet, so the probe's echo comes after any retained record.
 */
export async function readRetained(
  session: BrokerSession,
  topic: string,
  signal: AbortSignal,
): Promise<Buffer[]> {
  const probe = `p2pd/v1/name-probe/${randomBytes(12).toString('hex')}`
  const found: Buffer[] = []
  const lost = untilLost(session, signal)
  let onMessage: ((t: string, payload: Buffer) => void) | undefined
  try {
    const echoed = new Promise<void>((resolve) => {
      onMessage = (t, payload) => {
        if (t === topic && payload.length > 0 && found.length < 4) found.push(payload)
        else if (t === probe) resolve()
      }
      session.client.on('message', onMessage)
    })
    const granted = await Promise.race([
      session.client.subscribeAsync({ [topic]: { qos: 1 }, [probe]: { qos: 1 } }),
      lost.promise,
    ])
    if (granted.some((g) => g.qos >= 128)) throw new Error('subscription refused')
    await Promise.race([session.client.publishAsync(probe, 'probe', { qos: 1 }), lost.promise])
    await Promise.race([echoed, lost.promise])
    return found
  } finally {
    lost.dispose()
    if (onMessage) session.client.off('message', onMessage)
  }
}
