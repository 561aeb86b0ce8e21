import type { Endpoint, NatInfo } from '@p2pd/interface'
import { SignalMessageError } from '../errors.js'

/** Longest peer-address text a message may carry (P2PD's PNP value limit is 500 bytes). */
export const MAX_ADDRESS_TEXT = 2048

/** Longest host text in an endpoint (a DNS name is at most 253 characters). */
export const MAX_HOST_TEXT = 253

/** Most entries in a list field (mappings, candidate ports). */
export const MAX_LIST_LENGTH = 64

const HEX_32 = /^[0-9a-f]{32}$/

/** Throws the body error for `type` at `field`. */
export function bad(type: string, field: string, why: string): never {
  throw new SignalMessageError('SIGNAL_MESSAGE_BODY', `${type}: ${field} ${why}`)
}

/** The body as a plain object, or throws. */
export function objectBody(type: string, body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    bad(type, 'body', 'must be an object')
  }
  return body as Record<string, unknown>
}

/** 16 random bytes as 32 lowercase hex characters (tokens, session ids). */
export function hex32(type: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || !HEX_32.test(value)) bad(type, field, 'must be 32 lowercase hex')
  return value
}

/** A peer address in its text form (decoded and checked against the sender by the node). */
export function addressText(type: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ADDRESS_TEXT) {
    bad(type, field, `must be peer-address text of 1–${MAX_ADDRESS_TEXT} characters`)
  }
  return value
}

/** An integer in [min, max]. */
export function int(type: string, field: string, value: unknown, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    bad(type, field, `must be an integer in [${min}, ${max}]`)
  }
  return value as number
}

/** A port, 1–65535. */
export function port(type: string, field: string, value: unknown): number {
  return int(type, field, value, 1, 65_535)
}

/** A short text (host names, server names). */
export function text(type: string, field: string, value: unknown, max = MAX_HOST_TEXT): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    bad(type, field, `must be text of 1–${max} characters`)
  }
  return value
}

/** `{ host, port }`. */
export function endpoint(type: string, field: string, value: unknown): Endpoint {
  const o = objectBody(type, value)
  return { host: text(type, `${field}.host`, o.host), port: port(type, `${field}.port`, o.port) }
}

/** A list of 1…{@link MAX_LIST_LENGTH} items (or 0 when `allowEmpty`). */
export function list<T>(
  type: string,
  field: string,
  value: unknown,
  item: (v: unknown, i: number) => T,
  allowEmpty = false,
): T[] {
  if (!Array.isArray(value) || value.length > MAX_LIST_LENGTH) {
    bad(type, field, `must be a list of at most ${MAX_LIST_LENGTH}`)
  }
  if (!allowEmpty && value.length === 0) bad(type, field, 'must not be empty')
  return value.map(item)
}

/** NAT info as the peer address carries it (P2PD's numbering). */
export function natInfo(type: string, field: string, value: unknown): NatInfo {
  const o = objectBody(type, value)
  const delta = objectBody(type, o.delta)
  const nat: NatInfo = {
    type: int(type, `${field}.type`, o.type, 1, 7) as NatInfo['type'],
    delta: {
      type: int(type, `${field}.delta.type`, delta.type, 1, 6) as NatInfo['delta']['type'],
      value: int(type, `${field}.delta.value`, delta.value, -65_535, 65_535),
    },
  }
  if (o.range === undefined) return nat
  const range = list(type, `${field}.range`, o.range, (p, i) =>
    port(type, `${field}.range[${i}]`, p),
  )
  if (range.length !== 2 || (range[0] as number) > (range[1] as number)) {
    bad(type, `${field}.range`, 'must be [low, high]')
  }
  return { ...nat, range: [range[0] as number, range[1] as number] }
}

/** A time in ms since the Unix epoch (on the sender's corrected clock). */
export function epochMs(type: string, field: string, value: unknown): number {
  return int(type, field, value, 0, 8_640_000_000_000_000)
}

/** Wraps a throwing parser as a type guard. */
export function guard<T>(parse: (body: unknown) => T): (body: unknown) => body is T {
  return (body: unknown): body is T => {
    try {
      parse(body)
      return true
    } catch {
      return false
    }
  }
}
