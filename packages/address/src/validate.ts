import type { AddressInterface, Delta, NatType } from '@p2pd/interface'
import { AddressError, type AddressErrorCode, show } from './errors.js'
import { isMachineId, nodeIdKind } from './ids.js'
import { parseIp } from './ip.js'

/**
 * The rules of a peer address and their bounds. The decoder hands these functions the numbers
 * it read from the text (`NaN` for non-canonical text) together with that text, for messages;
 * the encoder hands them the model's values. Both sides therefore refuse exactly the same
 * things, in the same order, with the same codes.
 *
 * P2PD enforces almost none of these bounds (see the README's strictness table); they are what
 * keeps a hostile address cheap to refuse.
 */

/**
 * Longest accepted address text, in characters, checked before anything else. The largest
 * valid address (8 offsets, 3 + 3 interfaces at their widest, 66-char node ID, 128-char
 * machine ID) is 749 characters.
 */
export const MAX_ADDRESS_LENGTH = 1024

/** Interfaces per address family (P2PD's documented limit, never enforced by P2PD). */
export const MAX_INTERFACES = 3

/** Signal offsets per address. P2PD's validator wants ≤ 6 but ignores its own verdict. */
export const MAX_SIGNAL_OFFSETS = 8

/** Largest signal offset: an index into the broker list (P2PD's has 15 entries). */
export const MAX_SIGNAL_OFFSET = 255

/** Largest `netifaceIndex` / `ifIndex` (OS interface lists on busy hosts run into hundreds). */
export const MAX_INTERFACE_INDEX = 65535

/** Largest |delta value|: a port distance. */
export const MAX_DELTA = 65535

/** An address family section. */
export type Family = 'ip4' | 'ip6'

/** A field as a message names it (`ip4[1].port`, `signal[2]`). Built only on failure. */
const fieldName = (at: string, name: string | number) =>
  typeof name === 'number' ? `${at}[${name}]` : `${at}.${name}`

/**
 * How the decoder shows what it read: the text of field `k` (of an interface item, or of the
 * signal list). Called only when something failed, so the happy path slices nothing.
 */
export type FieldText = (k: number) => string

/**
 * `value` as an integer in `[min, max]`. Not an integer (including the decoder's `NaN`) →
 * `notInteger`; out of range → `outOfRange`. Messages show `text(k)` when decoding, else `value`.
 */
function integer(
  value: unknown,
  min: number,
  max: number,
  outOfRange: AddressErrorCode,
  at: string,
  name: string | number,
  text: FieldText | undefined,
  k: number,
  notInteger: AddressErrorCode = 'ADDRESS_NUMBER',
): number {
  if (typeof value === 'number' && value >= min && value <= max && Number.isInteger(value)) {
    return value
  }
  const raw = text === undefined ? value : text(k)
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    const want = min < 0 ? 'digits, or ~digits for a negative value' : 'digits only'
    throw new AddressError(
      notInteger,
      fieldName(at, name),
      `${show(raw)} is not a canonical decimal integer (${want}; no sign, spaces or leading zeros)`,
    )
  }
  throw new AddressError(outOfRange, fieldName(at, name), `${show(raw)} is outside ${min}–${max}`)
}

function record(value: unknown, at: string, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const field = name === '' ? at : fieldName(at, name)
    throw new AddressError('ADDRESS_TYPE', field, `expected an object, got ${show(value)}`)
  }
  return value as Record<string, unknown>
}

/** `value` as an array, or `ADDRESS_TYPE`. */
export function array(value: unknown, field: string): readonly unknown[] {
  if (!Array.isArray(value)) {
    throw new AddressError('ADDRESS_TYPE', field, `expected an array, got ${show(value)}`)
  }
  return value
}

/**
 * The canonical form of an IP of `family`: IPv4 as a dotted quad, IPv6 fully exploded
 * lowercase. Compressed or mixed-case IPv6 is accepted and a valid zone id dropped (see
 * `parseIp`). An IP of the other family — IPv4-mapped IPv6 counts as IPv4 — is `ADDRESS_FAMILY`.
 */
function ip(value: unknown, family: Family, at: string, name: string): string {
  if (typeof value !== 'string') {
    throw new AddressError(
      'ADDRESS_TYPE',
      fieldName(at, name),
      `expected a string, got ${show(value)}`,
    )
  }
  // Longest IP text worth parsing: a maximal IPv6 with a dotted quad (45) and a zone (16).
  const parsed = value.length > 61 ? 'is too long to be an IP address' : parseIp(value)
  if (typeof parsed === 'string') {
    throw new AddressError('ADDRESS_IP', fieldName(at, name), `${show(value)} ${parsed}`)
  }
  if (family === 'ip4' ? parsed.kind !== 'ipv4' : parsed.kind !== 'ipv6') {
    const what =
      parsed.kind === 'ipv4-mapped' ? 'IPv4-mapped IPv6' : parsed.kind.replace('ip', 'IP')
    throw new AddressError(
      'ADDRESS_FAMILY',
      fieldName(at, name),
      `${show(value)} is ${what}, in the ${family} section`,
    )
  }
  return parsed.address
}

/**
 * One interface, checked field by field in wire order and returned in canonical form (exactly
 * the fields of {@link AddressInterface}; anything else, such as `nat.range`, is not carried).
 *
 * @param value - the model (encoding), or what the decoder read (numbers, `NaN` for bad text)
 * @param text - the decoder's field texts, shown in messages instead of `NaN`
 */
function checkInterface(
  value: unknown,
  family: Family,
  index: number,
  text?: FieldText,
): AddressInterface {
  const at = `${family}[${index}]`
  const v = record(value, at, '')
  const nat = record(v['nat'], at, 'nat')
  const delta = record(nat['delta'], at, 'nat.delta')
  const I = MAX_INTERFACE_INDEX
  const D = MAX_DELTA
  return {
    netifaceIndex: integer(v['netifaceIndex'], 0, I, 'ADDRESS_INDEX', at, 'netifaceIndex', text, 0),
    ifIndex: integer(v['ifIndex'], 0, I, 'ADDRESS_INDEX', at, 'ifIndex', text, 1),
    ext: ip(v['ext'], family, at, 'ext'),
    nic: ip(v['nic'], family, at, 'nic'),
    port: integer(v['port'], 1, 65535, 'ADDRESS_PORT', at, 'port', text, 4),
    nat: {
      type: integer(nat['type'], 1, 7, 'ADDRESS_NAT_TYPE', at, 'nat.type', text, 5) as NatType,
      delta: {
        type: integer(delta['type'], 1, 6, 'ADDRESS_DELTA_TYPE', at, 'nat.delta.type', text, 6),
        value: integer(
          delta['value'],
          -D,
          D,
          'ADDRESS_DELTA_VALUE',
          at,
          'nat.delta.value',
          text,
          7,
        ),
      } as Delta,
    },
  }
}

/**
 * The interfaces of one family: at most {@link MAX_INTERFACES}, each valid, no two with the
 * same `ifIndex` (P2PD silently keeps the last of those).
 *
 * @param texts - the decoder's per-item field texts, for messages
 */
export function checkFamily(
  values: readonly unknown[],
  family: Family,
  texts?: readonly FieldText[],
): AddressInterface[] {
  if (values.length > MAX_INTERFACES) {
    throw new AddressError(
      'ADDRESS_TOO_MANY_INTERFACES',
      family,
      `${values.length} interfaces; at most ${MAX_INTERFACES} per family`,
    )
  }
  const list: AddressInterface[] = []
  for (let i = 0; i < values.length; i++) {
    list.push(checkInterface(values[i], family, i, texts?.[i]))
  }
  checkUniqueIfIndexes(list, family)
  return list
}

function checkUniqueIfIndexes(list: readonly AddressInterface[], family: Family): void {
  for (let i = 1; i < list.length; i++) {
    const ifIndex = (list[i] as AddressInterface).ifIndex
    for (let j = 0; j < i; j++) {
      if ((list[j] as AddressInterface).ifIndex === ifIndex) {
        throw new AddressError(
          'ADDRESS_DUPLICATE_INTERFACE',
          `${family}[${i}].ifIndex`,
          `${ifIndex} is already used by ${family}[${j}]`,
        )
      }
    }
  }
}

/**
 * The signal offsets: at most {@link MAX_SIGNAL_OFFSETS}, each 0–{@link MAX_SIGNAL_OFFSET},
 * no repeats. Every failure is `ADDRESS_SIGNAL`. `text` is the decoder's, for messages.
 */
export function checkSignal(values: readonly unknown[], text?: FieldText): number[] {
  if (values.length > MAX_SIGNAL_OFFSETS) {
    throw new AddressError(
      'ADDRESS_SIGNAL',
      'signal',
      `${values.length} offsets; at most ${MAX_SIGNAL_OFFSETS}`,
    )
  }
  const out: number[] = []
  for (let i = 0; i < values.length; i++) {
    const max = MAX_SIGNAL_OFFSET
    const v = integer(values[i], 0, max, 'ADDRESS_SIGNAL', 'signal', i, text, i, 'ADDRESS_SIGNAL')
    if (out.includes(v)) {
      throw new AddressError('ADDRESS_SIGNAL', `signal[${i}]`, `offset ${v} is repeated`)
    }
    out.push(v)
  }
  return out
}

/** Checks a node ID and returns whether it is a legacy (non-key) one. */
export function checkNodeId(id: unknown): boolean {
  const kind = nodeIdKind(id)
  if (kind === undefined) {
    throw new AddressError(
      'ADDRESS_NODE_ID',
      'nodeId',
      `${show(id)} is neither a compressed public key (66 hex, 02/03…) nor a 1–64 char [A-Za-z0-9_.] legacy id`,
    )
  }
  return kind === 'legacy'
}

export function checkMachineId(id: unknown): string {
  if (!isMachineId(id)) {
    throw new AddressError(
      'ADDRESS_MACHINE_ID',
      'machineId',
      `${show(id)} is not a 1–128 char [A-Za-z0-9_.] token`,
    )
  }
  return id
}

/** Fails unless `text` is at most {@link MAX_ADDRESS_LENGTH} characters. */
export function checkLength(text: string): void {
  if (text.length > MAX_ADDRESS_LENGTH) {
    throw new AddressError(
      'ADDRESS_TOO_LONG',
      'address',
      `${text.length} characters; the limit is ${MAX_ADDRESS_LENGTH}`,
    )
  }
}
