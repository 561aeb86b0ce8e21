import { decodePeerAddress, MAX_ADDRESS_LENGTH } from '@p2pd/address'
import { type Identity, isNodeId, nodeIdToPublicKey, SIGNATURE_LENGTH, sign } from '@p2pd/identity'
import { NameError } from './errors.js'
import { isName, MAX_NAME_LENGTH, ownsName } from './name.js'

/** Version byte every record starts with. */
export const RECORD_VERSION = 1

/** Signature domain of name records (tagged `p2pd/v1/name-record`). */
export const RECORD_SIGNATURE_DOMAIN = 'name-record'

/**
 * Largest encoded record: version, name, key, seq, expiry, the longest peer address and the
 * signature come to ~1.2 KiB; anything longer is refused before it is parsed.
 */
export const MAX_RECORD_BYTES = 2048

const KEY_BYTES = 33
const FIXED_BYTES = 1 + 1 + KEY_BYTES + 8 + 8 + 2 + SIGNATURE_LENGTH

/** What a record says, before it is signed. */
export interface NameRecordFields {
  /** The full name, `<label>.<fingerprint>`. */
  readonly name: string
  /** The owner's peer address (text). */
  readonly address: string
  /** Grows with every record the owner publishes for the name; the highest wins. */
  readonly seq: number
  /** Unix time (seconds) after which the record is void. */
  readonly expires: number
}

/** A signed name record. */
export interface NameRecord extends NameRecordFields {
  /** The owner's node ID (compressed public key, 66 hex); its fingerprint is in the name. */
  readonly nodeId: string
  /** BIP-340 signature by `nodeId` over the record body, domain `name-record`. */
  readonly signature: Uint8Array
}

const malformed = (why: string) => new NameError('NAME_RECORD_MALFORMED', `name record: ${why}`)
const ascii = (s: string) => /^[\x20-\x7e]*$/.test(s)

function checkFields(r: NameRecordFields & { nodeId: string }): void {
  if (!isName(r.name)) throw malformed('bad name')
  if (!isNodeId(r.nodeId)) throw malformed('bad key')
  if (!Number.isSafeInteger(r.seq) || r.seq < 1) throw malformed('seq must be a whole number ≥ 1')
  if (!Number.isSafeInteger(r.expires) || r.expires < 1) throw malformed('bad expiry')
  if (
    typeof r.address !== 'string' ||
    r.address.length === 0 ||
    r.address.length > MAX_ADDRESS_LENGTH ||
    !ascii(r.address)
  ) {
    throw malformed(`address must be 1–${MAX_ADDRESS_LENGTH} printable ASCII characters`)
  }
}

/**
 * The signed bytes: everything of the wire form but the signature. Layout (big-endian):
 * version (1) ‖ name length (1) ‖ name ‖ public key (33) ‖ seq (8) ‖ expires (8) ‖
 * address length (2) ‖ address. The signature (64) follows on the wire.
 */
function body(r: NameRecordFields & { nodeId: string }): Buffer {
  const name = Buffer.from(r.name, 'ascii')
  const address = Buffer.from(r.address, 'ascii')
  const out = Buffer.alloc(FIXED_BYTES - SIGNATURE_LENGTH + name.length + address.length)
  let at = out.writeUInt8(RECORD_VERSION, 0)
  at = out.writeUInt8(name.length, at)
  at += name.copy(out, at)
  at += Buffer.from(nodeIdToPublicKey(r.nodeId)).copy(out, at)
  at = out.writeBigUInt64BE(BigInt(r.seq), at)
  at = out.writeBigUInt64BE(BigInt(r.expires), at)
  at = out.writeUInt16BE(address.length, at)
  address.copy(out, at)
  return out
}

/** @internal The bytes a record's signature covers. */
export function recordBody(record: NameRecord): Uint8Array {
  return body(record)
}

/**
 * Signs a record for a name `identity` owns, pointing at one of its own addresses.
 * @throws {@link NameError} `NAME_RECORD_KEY` when the name's fingerprint or the address's
 * node ID is not `identity`'s; `NAME_RECORD_MALFORMED` for a bad field.
 */
export function signRecord(identity: Identity, fields: NameRecordFields): NameRecord {
  const unsigned = { ...fields, nodeId: identity.nodeId }
  checkFields(unsigned)
  if (!ownsName(identity.nodeId, fields.name)) {
    throw new NameError('NAME_RECORD_KEY', `${fields.name} belongs to another key`)
  }
  if (decodeAddressNodeId(fields.address) !== identity.nodeId) {
    throw new NameError('NAME_RECORD_KEY', 'the address is not this node’s')
  }
  return { ...unsigned, signature: sign(identity, RECORD_SIGNATURE_DOMAIN, body(unsigned)) }
}

/** @internal The node ID in an address; NAME_RECORD_MALFORMED when it is not an address. */
export function decodeAddressNodeId(address: string): string {
  try {
    return decodePeerAddress(address).nodeId
  } catch (err) {
    throw new NameError(
      'NAME_RECORD_MALFORMED',
      `name record: bad address: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
}

/**
 * The wire form of a record (at most {@link MAX_RECORD_BYTES}).
 * @throws {@link NameError} `NAME_RECORD_MALFORMED` for a bad field.
 */
export function encodeRecord(record: NameRecord): Uint8Array {
  checkFields(record)
  if (!(record.signature instanceof Uint8Array) || record.signature.length !== SIGNATURE_LENGTH) {
    throw malformed(`the signature is ${SIGNATURE_LENGTH} bytes`)
  }
  return new Uint8Array(Buffer.concat([body(record), record.signature]))
}

/**
 * Reads a record's wire form. Checks the shape only — sizes, version, name syntax, key on
 * the curve, numbers in range, printable address, no trailing bytes — never the signature,
 * ownership or expiry (that is {@link verifyRecord}'s job).
 * @throws {@link NameError} `NAME_RECORD_MALFORMED` for anything else than a record.
 */
export function decodeRecord(bytes: Uint8Array): NameRecord {
  if (!(bytes instanceof Uint8Array)) throw malformed('expected bytes')
  if (bytes.length > MAX_RECORD_BYTES) throw malformed(`longer than ${MAX_RECORD_BYTES} bytes`)
  if (bytes.length < FIXED_BYTES + 1) throw malformed('too short')
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  if (b[0] !== RECORD_VERSION) throw malformed(`unknown version ${b[0]}`)
  const nameLength = b[1] as number
  if (nameLength === 0 || nameLength > MAX_NAME_LENGTH) throw malformed('bad name length')
  let at = 2
  const need = (n: number) => {
    if (at + n > b.length) throw malformed('truncated')
  }
  need(nameLength)
  const name = b.toString('latin1', at, at + nameLength)
  at += nameLength
  if (!isName(name)) throw malformed('bad name')
  need(KEY_BYTES + 16 + 2)
  const nodeId = b.toString('hex', at, at + KEY_BYTES)
  at += KEY_BYTES
  if (!isNodeId(nodeId)) throw malformed('the key is not a node key')
  const seq = b.readBigUInt64BE(at)
  const expires = b.readBigUInt64BE(at + 8)
  at += 16
  if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed('seq out of range')
  if (expires < 1n || expires > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw malformed('expiry out of range')
  }
  const addressLength = b.readUInt16BE(at)
  at += 2
  if (addressLength === 0 || addressLength > MAX_ADDRESS_LENGTH) {
    throw malformed('bad address length')
  }
  need(addressLength + SIGNATURE_LENGTH)
  const address = b.toString('latin1', at, at + addressLength)
  at += addressLength
  if (!ascii(address)) throw malformed('the address is not printable ASCII')
  const signature = new Uint8Array(b.subarray(at, at + SIGNATURE_LENGTH))
  at += SIGNATURE_LENGTH
  if (at !== b.length) throw malformed(`${b.length - at} trailing bytes`)
  return { name, address, seq: Number(seq), expires: Number(expires), nodeId, signature }
}
