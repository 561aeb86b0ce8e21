/**
 * @packageDocumentation
 * Signed, encrypted, redundant signaling over MQTT — the `Signaling` of `@p2pd/interface` on
 * MQTT.js:
 *
 * - {@link mqttSignaling} / {@link MqttSignaling}: connects to several brokers (MQTT 5, falling
 *   back to 3.1.1; `mqtt://`, `mqtts://`, `ws://`, `wss://`), subscribes to `p2pd/v1/<nodeId>`
 *   on each with QoS 1, publishes every message through `redundancy` (2) brokers the recipient
 *   listens on, reconnects with backoff and tracks each broker's health.
 * - The envelope ({@link sealEnvelope}, {@link openEnvelope}): `0x01 ‖ sealed box` of a JSON
 *   payload `{ v, id, ts, from, sid, seq, type, body }`, signed by the sender and encrypted to the
 *   recipient with `@p2pd/identity`. Receivers drop (and count in `metrics`) oversize,
 *   undecryptable, forged, mismatched, expired, replayed, rate-limited and unknown messages.
 *   Peers that have talked before authenticate their envelopes with a pair key (MQTT 5 user
 *   property), so a flood of forgeries from strangers cannot crowd them out.
 * - The message schemas of the strategies (`reverse/request`, `punch/*`, `turn/*`,
 *   `address/*`, and user types under `app/…`) with their validators; they do not depend on
 *   MQTT.
 *
 * @example
 * ```ts
 * import { generateIdentity } from '@p2pd/identity'
 * import { mqttSignaling } from '@p2pd/signal-mqtt'
 *
 * const brokers = ['mqtt://127.0.0.1:1883', 'ws://127.0.0.1:8080']
 * const alice = mqttSignaling({ identity: generateIdentity(), brokers })
 * const bob = mqttSignaling({ identity: generateIdentity(), brokers })
 * await Promise.all([alice.start(), bob.start()])
 *
 * bob.subscribe(({ from, message }) => console.log(from, message.type, message.body))
 * await alice.publish(
 *   { nodeId: bob.nodeId, signal: bob.offsets }, // offsets come from Bob's peer address
 *   { type: 'app/chat', body: { text: 'hello' } },
 * )
 * console.log(alice.health(), bob.metrics.dropped)
 * await Promise.all([alice.close(), bob.close()])
 * ```
 */

export type { BrokerHealth, BrokerState } from './broker-connection.js'
export { brokerOrder } from './broker-order.js'
export { DEFAULT_BROKERS, isBrokerUrl } from './brokers.js'
export {
  DEFAULT_MAX_ENVELOPE_BYTES,
  ENVELOPE_OVERHEAD,
  ENVELOPE_VERSION,
  EnvelopeDrop,
  type EnvelopeDropReason,
  type EnvelopePayload,
  newMessageId,
  openEnvelope,
  PAYLOAD_VERSION,
  sealEnvelope,
} from './envelope.js'
export {
  SignalingError,
  type SignalingErrorCode,
  SignalMessageError,
  type SignalMessageErrorCode,
} from './errors.js'
export {
  ADDRESS_GET,
  ADDRESS_RETURN,
  type AddressGet,
  type AddressReturn,
  isAddressGet,
  isAddressReturn,
  parseAddressGet,
  parseAddressReturn,
} from './messages/address.js'
export { APP_PREFIX, DEFAULT_MAX_APP_BODY_BYTES, isAppType, parseAppBody } from './messages/app.js'
export { MAX_ADDRESS_TEXT, MAX_HOST_TEXT, MAX_LIST_LENGTH } from './messages/fields.js'
export {
  isPunchAnswer,
  isPunchOffer,
  isPunchReady,
  PUNCH_ANSWER,
  PUNCH_OFFER,
  PUNCH_READY,
  PUNCH_READY_KINDS,
  type PunchAnswer,
  type PunchOffer,
  type PunchPlan,
  type PunchReady,
  parsePunchAnswer,
  parsePunchOffer,
  parsePunchReady,
} from './messages/punch.js'
export { MAX_TYPE_LENGTH, MESSAGE_SCHEMAS, validateSignalMessage } from './messages/registry.js'
export {
  isReverseRequest,
  parseReverseRequest,
  REVERSE_REQUEST,
  type ReverseRequest,
} from './messages/reverse.js'
export {
  isTurnAnswer,
  isTurnOffer,
  parseTurnAnswer,
  parseTurnOffer,
  TURN_ANSWER,
  TURN_OFFER,
  type TurnAnswer,
  type TurnOffer,
} from './messages/turn.js'
export {
  type DropReason,
  emptyMetrics,
  forgedCount,
  overBudgetCount,
  type SignalingMetrics,
} from './metrics.js'
export { MqttSignaling, mqttSignaling } from './mqtt-signaling.js'
export { type MqttSignalingOptions, SIGNALING_DEFAULTS } from './options.js'
export { AUTH_PROPERTY } from './pair-keys.js'
export type { RateLimit } from './rate-limit.js'
export {
  DEFAULT_POW_BITS,
  MAX_POW_BITS,
  mintStamp,
  mintStampSync,
  POW_PROPERTY,
  verifyStamp,
} from './stamp.js'
