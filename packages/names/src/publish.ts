import { throwIfAborted, withDeadline } from '@p2pd/interface'
import type { IClientOptions } from 'mqtt'
import { untilLost, withSession } from './broker.js'
import { NameError } from './errors.js'
import { nameTopic } from './name.js'
import { encodeRecord, type NameRecord } from './record.js'

/** Default deadline of one publish or lookup on each broker: 5 s. */
export const DEFAULT_BROKER_TIMEOUT_MS = 5_000

/** Which brokers a name operation uses, and how long it may take. */
export interface BrokerSet {
  /** Broker URLs (`mqtt://`, `mqtts://`, `ws://`, `wss://`); every one is used at once. */
  readonly brokers: readonly string[]
  /** Deadline of the whole operation, all brokers in parallel (default 5 s). */
  readonly timeoutMs?: number
  /** Passed to MQTT.js (TLS material, credentials…). */
  readonly mqttOptions?: IClientOptions
}

/** One broker's failure. */
export interface BrokerFailure {
  readonly url: string
  readonly error: string
}

/** What a publish achieved. */
export interface PublishResult {
  readonly name: string
  readonly seq: number
  /** Brokers that acknowledged the retained record. */
  readonly accepted: readonly string[]
  readonly failed: readonly BrokerFailure[]
}

/** @internal Refuses an empty or oversized broker list. */
export function checkBrokers(brokers: readonly string[]): void {
  if (!Array.isArray(brokers) || brokers.length === 0 || brokers.length > 32) {
    throw new NameError('NAME_OPTIONS', 'give 1–32 broker URLs')
  }
}

/**
 * Publishes a signed record as a retained message (QoS 1) on its name's topic on every broker
 * at once, each within the deadline. With MQTT 5 the message also carries a Message Expiry
 * Interval, so brokers drop it when the record expires. Succeeds when at least one broker
 * acknowledged it.
 * @throws {@link NameError} `NAME_PUBLISH_FAILED` when no broker did.
 */
export async function publishRecord(
  record: NameRecord,
  options: BrokerSet & { readonly signal?: AbortSignal; readonly nowMs?: number },
): Promise<PublishResult> {
  checkBrokers(options.brokers)
  const payload = Buffer.from(encodeRecord(record))
  const topic = nameTopic(record.name)
  const nowS = Math.floor((options.nowMs ?? Date.now()) / 1000)
  const expiry = Math.max(1, Math.min(0xffffffff, record.expires - nowS))
  const timeoutMs = options.timeoutMs ?? DEFAULT_BROKER_TIMEOUT_MS
  const outcomes = await Promise.allSettled(
    options.brokers.map((url) =>
      withDeadline(
        timeoutMs,
        options.signal,
        (signal) =>
          withSession(url, signal, options.mqttOptions, async (session) => {
            const lost = untilLost(session, signal)
            try {
              await Promise.race([
                session.client.publishAsync(topic, payload, {
                  qos: 1,
                  retain: true,
                  ...(session.version === 5
                    ? { properties: { messageExpiryInterval: expiry } }
                    : {}),
                }),
                lost.promise,
              ])
            } finally {
              lost.dispose()
            }
          }),
        `publish to ${url}`,
      ),
    ),
  )
  throwIfAborted(options.signal)
  const accepted: string[] = []
  const failed: BrokerFailure[] = []
  outcomes.forEach((o, i) => {
    const url = options.brokers[i] as string
    if (o.status === 'fulfilled') accepted.push(url)
    else failed.push({ url, error: (o.reason as Error)?.message ?? String(o.reason) })
  })
  if (accepted.length === 0) {
    throw new NameError(
      'NAME_PUBLISH_FAILED',
      `no broker took the record for ${record.name}: ${failed.map((f) => `${f.url}: ${f.error}`).join('; ')}`,
    )
  }
  return { name: record.name, seq: record.seq, accepted, failed }
}
