import { generateIdentity, type Identity } from '@p2pd/identity'
import type { InboundSignal } from '@p2pd/interface'
import mqtt, { type MqttClient } from 'mqtt'
import { type MqttSignaling, type MqttSignalingOptions, mqttSignaling } from '../src/index.js'

/** Fast reconnects and short deadlines for tests; everything else at its default. */
export function node(
  brokers: readonly string[],
  options: Partial<MqttSignalingOptions> & { identity?: Identity } = {},
): MqttSignaling {
  return mqttSignaling({
    identity: options.identity ?? generateIdentity(),
    brokers,
    connectTo: brokers.map((_, i) => i),
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    connectTimeoutMs: 2_000,
    startTimeoutMs: 5_000,
    ...options,
  })
}

/** Collects every message a node delivers. */
export function collect(s: MqttSignaling): InboundSignal[] {
  const got: InboundSignal[] = []
  s.subscribe((m) => got.push(m))
  return got
}

/** Polls `condition` until true, or throws after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5_000, what = 'condition') {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Resolves after `ms` (to prove that nothing more arrives). */
export const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms))

/** A bare MQTT client: the attacker's (or sniffer's) view of a broker. */
export async function rawClient(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })
}

/** Subscribes a bare client to `topic` and collects the raw payloads it sees. */
export async function sniff(client: MqttClient, topic: string): Promise<Buffer[]> {
  const seen: Buffer[] = []
  client.on('message', (t, payload) => {
    if (t === topic) seen.push(Buffer.from(payload))
  })
  await client.subscribeAsync(topic, { qos: 1 })
  return seen
}
