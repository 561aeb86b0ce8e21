/**
 * Strict IP text parsing, written out by hand so the codec accepts exactly what it documents
 * (no legacy `inet_aton` forms such as `1.1` or `0x7f.1`, no octal-looking `010.0.0.1`).
 * Pure functions: they answer "what is this text" and leave the error reporting to callers.
 */

/** 32-bit value of a canonical dotted quad, or -1. Leading zeros are refused: `010` is octal to some parsers. */
function ipv4Value(text: string): number {
  const n = text.length
  if (n < 7 || n > 15) return -1
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1
      value = value * 256 + octet
      dots++
      octet = 0
      digits = 0
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return -1
      octet = octet * 10 + c - 48
      digits++
      if (octet > 255) return -1
    } else {
      return -1
    }
  }
  if (digits === 0 || dots !== 3) return -1
  return value * 256 + octet
}

/** The text itself when it is a canonical IPv4 dotted quad, else `undefined`. */
export function parseIPv4(text: string): string | undefined {
  return ipv4Value(text) === -1 ? undefined : text
}

/** Two lowercase hex digits for every byte value, to write groups without `padStart`. */
const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

/** Scratch space for the eight groups; parsing is synchronous, so one buffer serves all calls. */
const groups = new Uint16Array(8)

/** Value of the hex digit `c` (a char code, either case), or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/** True for eight 4-digit lowercase hex groups: the exploded form, already canonical. */
function isExploded(text: string): boolean {
  if (text.length !== 39) return false
  for (let i = 0; i < 39; i++) {
    const c = text.charCodeAt(i)
    if (i % 5 === 4 ? c !== 58 : !((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false
  }
  return true
}

/**
 * The fully exploded lowercase form (`2001:0db8:0000:…:0001`) of an IPv6 address in any
 * RFC 4291 text form (compressed `::`, mixed case, trailing dotted quad), else `undefined`.
 * One pass, no intermediate arrays; an already exploded lowercase text is returned as is.
 * Zone ids are not accepted here; see {@link parseIp}.
 */
export function parseIPv6(text: string): string | undefined {
  if (isExploded(text)) return text // the form P2PD writes: by far the most common
  const n = text.length
  if (n < 2 || n > 45) return undefined
  let count = 0 // groups read
  let gap = -1 // group index where "::" stands, if any
  let i = 0
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return undefined // a lone leading ":"
    gap = 0
    i = 2
  }
  while (i < n) {
    const start = i
    let value = 0
    while (i < n && i - start < 5) {
      const c = text.charCodeAt(i)
      const d = hexDigit(c)
      if (d === -1) break
      value = value * 16 + d
      i++
    }
    if (i < n && text.charCodeAt(i) === 46) {
      // A trailing dotted quad (RFC 4291 §2.2 form 3) stands for the last two groups.
      const v4 = count <= 6 ? ipv4Value(text.slice(start)) : -1
      if (v4 === -1) return undefined
      groups[count++] = Math.floor(v4 / 65536)
      groups[count++] = v4 % 65536
      break
    }
    if (i === start || i - start > 4 || count === 8) return undefined
    groups[count++] = value
    if (i === n) break
    if (text.charCodeAt(i) !== 58) return undefined
    i++
    if (i < n && text.charCodeAt(i) === 58) {
      if (gap !== -1) return undefined // a second "::", or ":::"
      gap = count
      i++
    } else if (i === n) {
      return undefined // a lone trailing ":"
    }
  }
  if (gap === -1) {
    if (count !== 8) return undefined
  } else {
    if (count > 7) return undefined // "::" stands for at least one group
    const shift = 8 - count
    for (let k = count - 1; k >= gap; k--) groups[k + shift] = groups[k] as number
    groups.fill(0, gap, gap + shift)
  }
  let out = ''
  for (let k = 0; k < 8; k++) {
    const g = groups[k] as number
    out += (k === 0 ? '' : ':') + HEX2[g >> 8] + HEX2[g & 255]
  }
  return out
}

/** True for an exploded IPv6 in `::ffff:0:0/96`, i.e. an IPv4 address in IPv6 clothing. */
export function isIPv4Mapped(exploded: string): boolean {
  return exploded.startsWith('0000:0000:0000:0000:0000:ffff:')
}

const ZONE_ID = /^[A-Za-z0-9_.]{1,15}$/

/** What an IP text turned out to be. `address` is canonical and never carries a zone id. */
export interface ParsedIp {
  readonly kind: 'ipv4' | 'ipv6' | 'ipv4-mapped'
  readonly address: string
}

/**
 * Parses an IPv4 or IPv6 address, optionally with a zone id (`fe80::1%eth0`). Returns the
 * canonical form, or a short reason why `text` is not an IP address.
 *
 * The zone id is checked (1–15 chars of `[A-Za-z0-9_.]`: an interface name within Linux's
 * IFNAMSIZ, or a Windows zone number) and dropped: it names one of *this* host's links, which
 * is meaningless to the remote peer that reads the address. P2PD strips it too.
 */
export function parseIp(text: string): ParsedIp | string {
  const at = text.indexOf('%')
  const address = at === -1 ? text : text.slice(0, at)
  if (at !== -1 && !ZONE_ID.test(text.slice(at + 1))) {
    return 'has a bad zone id (want 1–15 chars of [A-Za-z0-9_.])'
  }
  if (ipv4Value(address) !== -1) {
    return at === -1 ? { kind: 'ipv4', address } : 'is IPv4, which has no zone id'
  }
  const v6 = parseIPv6(address)
  if (v6 === undefined) return 'is not an IP address'
  return { kind: isIPv4Mapped(v6) ? 'ipv4-mapped' : 'ipv6', address: v6 }
}
