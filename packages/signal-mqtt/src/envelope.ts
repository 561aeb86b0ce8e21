import { randomBytes } from 'node:crypto'
import { type Identity, IdentityError, open, SEALED_BOX_OVERHEAD, seal } from '@p2pd/identity'
import { P2pdError } from '@p2pd/interface'
import { SignalingError } from './errors.js'

/** First byte of every envelope on the wire. */
export const ENVELOPE_VERSION = 1

/** Version of the JSON payload inside the sealed box (`v`). */
export const PAYLOAD_VERSION = 1

/** Default cap on a whole envelope (checked before anything is decrypted). */
export const DEFAULT_MAX_ENVELOPE_BYTES = 16 * 1024

/** Bytes an envelope adds to its JSON payload: version byte + sealed box overhead (147). */
export const ENVELOPE_OVERHEAD = 1 + SEALED_BOX_OVERHEAD

/** The JSON object inside the sealed box. */
export interface EnvelopePayload {
  /** {@link PAYLOAD_VERSION}. */
  readonly v: number
  /** 16 random bytes, 32 lowercase hex: the dedupe and replay key. */
  readonly id: string
  /** Sender's clock (ms since the epoch) when it sealed the message. */
  readonly ts: number
  /** The sender's node ID as it claims it; must equal the key that signed the box. */
  readonly from: string
  /** Sender's stream id (8 random bytes, 16 hex, new for each sender instance). */
  readonly sid: string
  /** Sequence number of this message in the sender's stream to this recipient, from 0. */
  readonly seq: number
  readonly type: string
  readonly body: unknown
  /**
   * Optional pair key (64 hex) the recipient may authenticate later envelopes of this pair with
   * (see the package README, Floods). Receivers that do not know it ignore it.
   */
  readonly ak?: string
}

/** Why an envelope was refused; each reason is a counter in the metrics. */
export type EnvelopeDropReason =
  | 'oversize'
  | 'version'
  | 'undecryptable'
  | 'badSignature'
  | 'malformed'
  | 'senderMismatch'

/**
 * Thrown by {@link openEnvelope}: the envelope is dropped for `reason`. The code is always
 * `SIGNAL_ENVELOPE_DROPPED`; `reason` says which check refused it.
 */
export class EnvelopeDrop extends P2pdError {
  declare readonly code: 'SIGNAL_ENVELOPE_DROPPED'

  constructor(
    readonly reason: EnvelopeDropReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('SIGNAL_ENVELOPE_DROPPED', message, options)
  }
}

/** A fresh message id: 16 random bytes as hex. */
export function newMessageId(): string {
  return randomBytes(16).toString('hex')
}

/**
 * Seals `payload` to `recipient`: `0x01 ‖ seal(sender, recipient, utf8(JSON(payload)))`.
 * @throws {@link SignalingError} `SIGNALING_TOO_LARGE` over `maxBytes`.
 */
export function sealEnvelope(
  sender: Identity,
  recipient: string,
  payload: EnvelopePayload,
  maxBytes = DEFAULT_MAX_ENVELOPE_BYTES,
): Uint8Array {
  const json = Buffer.from(JSON.stringify(payload))
  if (json.length + ENVELOPE_OVERHEAD > maxBytes) {
    throw new SignalingError(
      'SIGNALING_TOO_LARGE',
      `message of ${json.length + ENVELOPE_OVERHEAD} bytes is over the ${maxBytes}-byte limit`,
    )
  }
  const box = seal(sender, recipient, json, { maxPlaintext: maxBytes })
  const out = new Uint8Array(1 + box.length)
  out[0] = ENVELOPE_VERSION
  out.set(box, 1)
  return out
}

const HEX_32 = /^[0-9a-f]{32}$/
const HEX_16 = /^[0-9a-f]{16}$/

/**
 * Opens an envelope addressed to `recipient`: size cap first, then version, decryption,
 * signature, JSON and payload shape, and the claimed sender. Returns the verified sender and
 * the payload; throws only {@link EnvelopeDrop}.
 */
export function openEnvelope(
  recipient: Identity,
  bytes: Uint8Array,
  maxBytes = DEFAULT_MAX_ENVELOPE_BYTES,
): { from: string; payload: EnvelopePayload } {
  if (bytes.length > maxBytes) throw new EnvelopeDrop('oversize', `${bytes.length} bytes`)
  if (bytes.length < ENVELOPE_OVERHEAD) throw new EnvelopeDrop('malformed', 'too short')
  if (bytes[0] !== ENVELOPE_VERSION) throw new EnvelopeDrop('version', `version ${bytes[0]}`)
  let from: string
  let plaintext: Uint8Array
  try {
    ;({ from, plaintext } = open(recipient, bytes.subarray(1), { maxPlaintext: maxBytes }))
  } catch (err) {
    const code = err instanceof IdentityError ? err.code : 'unknown'
    if (code === 'IDENTITY_BOX_SIGNATURE') throw new EnvelopeDrop('badSignature', code)
    if (code === 'IDENTITY_BOX_MALFORMED' || code === 'IDENTITY_BOX_VERSION') {
      throw new EnvelopeDrop('malformed', code)
    }
    throw new EnvelopeDrop('undecryptable', code)
  }
  let payload: unknown
  try {
    payload = JSON.parse(Buffer.from(plaintext).toString('utf8'))
  } catch {
    throw new EnvelopeDrop('malformed', 'payload is not JSON')
  }
  const p = payload as Partial<EnvelopePayload> | null
  if (
    typeof p !== 'object' ||
    p === null ||
    p.v !== PAYLOAD_VERSION ||
    typeof p.id !== 'string' ||
    !HEX_32.test(p.id) ||
    !Number.isSafeInteger(p.ts) ||
    typeof p.from !== 'string' ||
    typeof p.sid !== 'string' ||
    !HEX_16.test(p.sid) ||
    !Number.isSafeInteger(p.seq) ||
    (p.seq as number) < 0 ||
    typeof p.type !== 'string' ||
    !('body' in p)
  ) {
    throw new EnvelopeDrop('malformed', 'payload does not match the envelope schema')
  }
  if (p.from !== from) throw new EnvelopeDrop('senderMismatch', `claims ${p.from}`)
  return { from, payload: p as EnvelopePayload }
}
