/**
 * @packageDocumentation
 * Names instead of addresses: `alice.<fingerprint>` resolves to the current peer address of
 * the node whose key the fingerprint names.
 *
 * - Names are self-certifying: `<label>.<fingerprint>`, the fingerprint being 80 bits of a
 *   hash of the owner's node key ({@link fingerprint}). Nobody without the key can make a
 *   record that verifies for the name, even on an open broker.
 * - A {@link NameRecord} (name, address, seq, expiry, key) is signed by the node key over a
 *   domain-separated binary encoding ({@link encodeRecord}, {@link decodeRecord}: at most
 *   {@link MAX_RECORD_BYTES}, strict, typed {@link NameError}s).
 * - {@link NamePublisher} publishes records as retained MQTT messages on several brokers at
 *   once, and follows a node's address changes; {@link NameResolver} reads them from several
 *   brokers at once, verifies each, takes the newest and refuses replays of older ones.
 *
 * @example
 * ```ts
 * import { createNode } from '@p2pd/node'
 * import { NamePublisher, nameResolver } from '@p2pd/names'
 *
 * const brokers = ['mqtt://127.0.0.1:1883']
 * // Bob publishes his name and keeps it current.
 * const publisher = new NamePublisher({ identity: bob.identity, label: 'bob', brokers })
 * await publisher.follow(bob) // bob: a started P2pdNode
 * // Alice connects by name.
 * const alice = createNode({ signaling, names: nameResolver({ brokers }) })
 * const pipe = await alice.connect(publisher.name) // 'bob.<fingerprint>'
 * ```
 */

export { NameError, type NameErrorCode } from './errors.js'
export {
  DEFAULT_LINGER_MS,
  type LookupOptions,
  type LookupResult,
  lookupName,
  newestFirst,
} from './lookup.js'
export {
  FINGERPRINT_BYTES,
  FINGERPRINT_LENGTH,
  fingerprint,
  isLabel,
  isName,
  MAX_LABEL_LENGTH,
  MAX_NAME_LENGTH,
  NAME_TOPIC_PREFIX,
  nameFor,
  nameTopic,
  ownsName,
  type ParsedName,
  parseName,
} from './name.js'
export {
  type BrokerFailure,
  type BrokerSet,
  DEFAULT_BROKER_TIMEOUT_MS,
  type PublishResult,
  publishRecord,
} from './publish.js'
export {
  type AddressSource,
  DEFAULT_RECORD_TTL_S,
  NamePublisher,
  type NamePublisherEvents,
  type NamePublisherOptions,
} from './publisher.js'
export {
  decodeRecord,
  encodeRecord,
  MAX_RECORD_BYTES,
  type NameRecord,
  type NameRecordFields,
  RECORD_SIGNATURE_DOMAIN,
  RECORD_VERSION,
  signRecord,
} from './record.js'
export {
  NameResolver,
  type NameResolverOptions,
  nameResolver,
  type ResolveOptions,
} from './resolver.js'
export {
  DEFAULT_CLOCK_SKEW_MS,
  MAX_RECORD_TTL_S,
  type VerifyOptions,
  verifyRecord,
} from './verify.js'
