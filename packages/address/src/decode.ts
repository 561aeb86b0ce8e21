import type { AddressInterface, PeerAddress } from '@p2pd/interface'
import { AddressError, show } from './errors.js'
import {
  checkFamily,
  checkLength,
  checkMachineId,
  checkNodeId,
  checkSignal,
  type Family,
  type FieldText,
} from './validate.js'

const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/

/**
 * Decodes a peer address from its text form,
 * `signal-ip4section-ip6section-nodeid-machineid`.
 *
 * Strict where P2PD is lax: every field is checked and the first problem is thrown as an
 * {@link AddressError} with a precise `code` — nothing is silently dropped or overwritten.
 * IPv6 addresses come back fully exploded and lowercase, without zone id; a negative delta
 * value is read from its `~N` form (`~5` is −5). A `nodeId` that is not a compressed public
 * key comes back with `legacy: true`.
 *
 * @param text - the address text (at most 1024 printable ASCII characters)
 * @returns the decoded address; `encodePeerAddress` gives `text` back when it was canonical
 * @throws {@link AddressError} for any input that is not a valid address — never anything else
 */
export function decodePeerAddress(text: string): PeerAddress {
  if (typeof text !== 'string') {
    throw new AddressError('ADDRESS_TYPE', 'address', `expected a string, got ${show(text)}`)
  }
  checkLength(text)
  try {
    return decodeText(text)
  } catch (err) {
    // Every valid address is printable ASCII (each field's rules allow nothing else), so the
    // charset is checked only once something failed: same verdict, nothing spent on success.
    const bad = text.search(NOT_PRINTABLE_ASCII)
    if (bad === -1) throw err
    const code = text.charCodeAt(bad).toString(16).padStart(4, '0')
    throw new AddressError(
      'ADDRESS_CHARSET',
      'address',
      `character U+${code} at ${bad}; only printable ASCII is allowed`,
    )
  }
}

function decodeText(text: string): PeerAddress {
  // Section bounds by index: the fields are read in place, and only kept strings are sliced.
  const d1 = text.indexOf('-')
  const d2 = d1 === -1 ? -1 : text.indexOf('-', d1 + 1)
  const d3 = d2 === -1 ? -1 : text.indexOf('-', d2 + 1)
  const d4 = d3 === -1 ? -1 : text.indexOf('-', d3 + 1)
  if (d4 === -1 || text.indexOf('-', d4 + 1) !== -1) {
    throw new AddressError(
      'ADDRESS_SECTIONS',
      'address',
      `${text.split('-').length} "-"-separated sections; want 5 (signal-ip4-ip6-nodeid-machineid)`,
    )
  }
  const nodeId = text.slice(d3 + 1, d4)
  return {
    signal: decodeSignal(text, d1),
    ip4: decodeFamily(text, d1 + 1, d2, 'ip4'),
    ip6: decodeFamily(text, d2 + 1, d3, 'ip6'),
    nodeId,
    legacy: checkNodeId(nodeId),
    machineId: checkMachineId(text.slice(d4 + 1)),
  }
}

/**
 * True when `text` is a string that {@link decodePeerAddress} accepts.
 * Use `decodePeerAddress` itself when you need the reason for a refusal.
 */
export function isPeerAddress(text: unknown): text is string {
  try {
    decodePeerAddress(text as string)
    return true
  } catch (err) {
    if (err instanceof AddressError) return false
    throw err
  }
}

/**
 * The value of the canonical non-negative decimal `text[start, end)` — digits only, no sign,
 * no spaces, no leading zeros except `0` itself, so every number has one spelling — else
 * `NaN`, which the rules in `validate.ts` refuse with the field's name and text.
 */
function decimal(text: string, start: number, end: number): number {
  if (start >= end || (end - start > 1 && text.charCodeAt(start) === 48)) return Number.NaN
  let value = 0
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return Number.NaN
    value = value * 10 + c - 48
  }
  return value
}

/**
 * Like {@link decimal}, also reading `~N` (N > 0) as −N: the delta value's sign, since `-`
 * separates the sections (see `encode.ts`). `~0` is not canonical and gives `NaN`.
 */
function signedDecimal(text: string, start: number, end: number): number {
  if (text.charCodeAt(start) !== 126) return decimal(text, start, end)
  const magnitude = decimal(text, start + 1, end)
  return magnitude > 0 ? -magnitude : Number.NaN
}

function decodeSignal(text: string, end: number): number[] {
  if (end === 4 && text.startsWith('None')) return []
  const values: number[] = []
  for (let s = 0; s <= end; ) {
    let e = text.indexOf(',', s)
    if (e === -1 || e > end) e = end
    values.push(decimal(text, s, e))
    s = e + 1
  }
  return checkSignal(values, (k) => text.slice(0, end).split(',')[k] as string)
}

/** The interfaces of the family section `text[start, end)`: `0`, or `[…]` items joined by `|`. */
function decodeFamily(
  text: string,
  start: number,
  end: number,
  family: Family,
): AddressInterface[] {
  if (end - start === 1 && text.charCodeAt(start) === 48) return []
  const items: unknown[] = []
  const texts: FieldText[] = []
  for (let s = start; s <= end; ) {
    let e = text.indexOf('|', s)
    if (e === -1 || e > end) e = end
    const [read, textOf] = readInterface(text, s, e, family, items.length)
    items.push(read)
    texts.push(textOf)
    s = e + 1
  }
  return checkFamily(items, family, texts)
}

/**
 * Reads the item `text[start, end)` into the shape of an {@link AddressInterface} (numbers are
 * `NaN` where the text is not a canonical decimal) for `checkFamily` to judge, and returns how
 * to show each field's text in a message.
 */
function readInterface(
  text: string,
  start: number,
  end: number,
  family: Family,
  index: number,
): [read: unknown, text: FieldText] {
  if (end - start < 2 || text.charCodeAt(start) !== 91 || text.charCodeAt(end - 1) !== 93) {
    const item = text.slice(start, end)
    throw new AddressError(
      'ADDRESS_BRACKETS',
      `${family}[${index}]`,
      `${show(item)} is not wrapped in [ ]`,
    )
  }
  // at[k] is where field k starts; field k ends one before at[k + 1] (at[8] is one past "]").
  const at = [start + 1, 0, 0, 0, 0, 0, 0, 0, end]
  let fields = 1
  for (let i = start + 1; i < end - 1; i++) {
    if (text.charCodeAt(i) === 44 && fields++ < 8) at[fields - 1] = i + 1
  }
  if (fields !== 8) {
    const item = text.slice(start, end)
    throw new AddressError(
      'ADDRESS_FIELDS',
      `${family}[${index}]`,
      `${fields} fields in ${show(item)}; want 8 ` +
        '[netifaceIndex,ifIndex,ext,nic,port,natType,deltaType,deltaValue]',
    )
  }
  const a = at as [number, number, number, number, number, number, number, number, number]
  return [
    {
      netifaceIndex: decimal(text, a[0], a[1] - 1),
      ifIndex: decimal(text, a[1], a[2] - 1),
      ext: text.slice(a[2], a[3] - 1),
      nic: text.slice(a[3], a[4] - 1),
      port: decimal(text, a[4], a[5] - 1),
      nat: {
        type: decimal(text, a[5], a[6] - 1),
        delta: { type: decimal(text, a[6], a[7] - 1), value: signedDecimal(text, a[7], a[8] - 1) },
      },
    },
    (k) => text.slice(a[k], (a[k + 1] as number) - 1),
  ]
}
