import { createHash } from 'node:crypto'
import { isNodeId, nodeIdToPublicKey } from '@p2pd/identity'
import { NameError } from './errors.js'

/** Bytes of the key hash a fingerprint keeps: 10 bytes = 80 bits = 16 base32 characters. */
export const FINGERPRINT_BYTES = 10

/** Characters of a fingerprint (lowercase RFC 4648 base32, no padding). */
export const FINGERPRINT_LENGTH = 16

/** Longest label: 32 characters. */
export const MAX_LABEL_LENGTH = 32

/** Longest name: a 32-character label, the dot and the 16-character fingerprint. */
export const MAX_NAME_LENGTH = MAX_LABEL_LENGTH + 1 + FINGERPRINT_LENGTH

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'
// A label: lowercase letters, digits and inner hyphens (DNS-like: no hyphen at either end).
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/
const FINGERPRINT = /^[a-z2-7]{16}$/
// Domain separation: this hash is only ever a name fingerprint.
const FINGERPRINT_TAG = Buffer.from('p2pd/v1/name-fingerprint\0')
const TOPIC_TAG = Buffer.from('p2pd/v1/name-topic\0')

/** Prefix of every name topic on a broker. */
export const NAME_TOPIC_PREFIX = 'p2pd/v1/name/'

/** The parts of a name. */
export interface ParsedName {
  readonly label: string
  readonly fingerprint: string
}

function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

/**
 * The fingerprint of a node key: the first {@link FINGERPRINT_BYTES} bytes of
 * SHA-256(`"p2pd/v1/name-fingerprint\0"` ‖ 33-byte compressed public key), in lowercase
 * base32 (16 characters).
 *
 * Why 80 bits is enough: taking over `alice.<fp>` needs a key with the same fingerprint, a
 * second preimage, so about 2^80 key generations (each an elliptic-curve operation plus a
 * hash; collisions do not help, since an attacker who finds two keys with one fingerprint
 * only collides with themselves). At the ~2^30 keys per second a GPU vanity-key search
 * reaches, that is ~2^50 s, tens of millions of GPU-years, per name.
 * @throws {@link NameError} `NAME_INVALID` when `nodeId` is not a node ID.
 */
export function fingerprint(nodeId: string): string {
  if (!isNodeId(nodeId)) throw new NameError('NAME_INVALID', 'not a node ID')
  const digest = createHash('sha256')
    .update(FINGERPRINT_TAG)
    .update(nodeIdToPublicKey(nodeId))
    .digest()
  return base32(digest.subarray(0, FINGERPRINT_BYTES))
}

/** True for a valid label: 1–32 of `a–z 0–9 -`, not starting or ending with `-`. */
export function isLabel(label: unknown): boolean {
  return typeof label === 'string' && LABEL.test(label)
}

/** True when `text` is a well-formed name `<label>.<fingerprint>` (lowercase). */
export function isName(text: unknown): boolean {
  if (typeof text !== 'string' || text.length > MAX_NAME_LENGTH) return false
  const dot = text.indexOf('.')
  return dot > 0 && isLabel(text.slice(0, dot)) && FINGERPRINT.test(text.slice(dot + 1))
}

/**
 * Splits a name into label and fingerprint.
 * @throws {@link NameError} `NAME_INVALID` unless {@link isName}.
 */
export function parseName(text: string): ParsedName {
  if (!isName(text)) {
    const shown = typeof text === 'string' ? JSON.stringify(text.slice(0, 60)) : typeof text
    throw new NameError(
      'NAME_INVALID',
      `${shown} is not a name: <label>.<fingerprint>, label 1–32 of a–z 0–9 - (no - at either end), fingerprint 16 base32 characters`,
    )
  }
  const dot = text.indexOf('.')
  return { label: text.slice(0, dot), fingerprint: text.slice(dot + 1) }
}

/**
 * The full name of `label` for the key `nodeId`: `<label>.<fingerprint(nodeId)>`.
 * @throws {@link NameError} `NAME_INVALID` for a bad label or node ID.
 */
export function nameFor(label: string, nodeId: string): string {
  if (!isLabel(label)) {
    throw new NameError(
      'NAME_INVALID',
      `label ${JSON.stringify(String(label).slice(0, 40))}: 1–32 of a–z 0–9 - (no - at either end)`,
    )
  }
  return `${label}.${fingerprint(nodeId)}`
}

/** True when `nodeId`'s key owns `name` (the fingerprints match). Never throws. */
export function ownsName(nodeId: string, name: string): boolean {
  if (!isName(name) || !isNodeId(nodeId)) return false
  return parseName(name).fingerprint === fingerprint(nodeId)
}

/**
 * The broker topic a name's record lives on: `p2pd/v1/name/` and 32 hex characters of a
 * domain-separated SHA-256 of the name, so the topic never carries MQTT wildcards or
 * separators whatever a name contains.
 * @throws {@link NameError} `NAME_INVALID` unless {@link isName}.
 */
export function nameTopic(name: string): string {
  parseName(name)
  const digest = createHash('sha256').update(TOPIC_TAG).update(name).digest()
  return NAME_TOPIC_PREFIX + digest.subarray(0, 16).toString('hex')
}
