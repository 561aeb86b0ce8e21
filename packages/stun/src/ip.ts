import { isIPv4, isIPv6 } from 'node:net'
import { StunError } from './errors.js'

/** 4 for an IPv4 literal, 6 for an IPv6 literal (a `%zone` suffix is allowed), 0 otherwise. */
export function ipFamily(ip: string): 0 | 4 | 6 {
  if (isIPv4(ip)) return 4
  if (isIPv6(stripZone(ip))) return 6
  return 0
}

function stripZone(ip: string): string {
  const i = ip.indexOf('%')
  return i < 0 ? ip : ip.slice(0, i)
}

/** The 4 or 16 bytes of an IP literal; throws `STUN_BAD_INPUT` for anything else. */
export function ipToBytes(ip: string): Buffer {
  const family = ipFamily(ip)
  if (family === 4) return Buffer.from(ip.split('.').map(Number))
  if (family !== 6) throw new StunError('STUN_BAD_INPUT', `not an IP address: ${ip}`)
  let text = stripZone(ip).toLowerCase()
  const out = Buffer.alloc(16)
  // An embedded dotted quad (::ffff:1.2.3.4) becomes the last two groups.
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    const v4 = tail.split('.').map(Number)
    const hi = (((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16)
    const lo = (((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16)
    text = `${text.slice(0, lastColon + 1)}${hi}:${lo}`
  }
  const [head = '', rest] = text.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':')
  const groups =
    rest === undefined
      ? headGroups
      : [
          ...headGroups,
          ...new Array<string>(8 - headGroups.length - restGroups.length).fill('0'),
          ...restGroups,
        ]
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2)
  })
  return out
}

/** Text form of 4 or 16 address bytes (IPv6 compressed as RFC 5952 says, lowercase). */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
  if (bytes.length !== 16) throw new StunError('STUN_BAD_INPUT', 'an IP address has 4 or 16 bytes')
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0))
  // Longest run (≥ 2) of zero groups is written as '::'.
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  const left = hex.slice(0, bestStart).join(':')
  const right = hex.slice(bestStart + bestLen).join(':')
  return `${left}::${right}`
}

/**
 * Canonical text of an IP for comparisons: IPv6 compressed and lowercase without zone, and an
 * IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, as dual-stack sockets report) as plain IPv4.
 */
export function normalizeIp(ip: string): string {
  const family = ipFamily(ip)
  if (family === 4) return ip
  if (family === 0) return ip
  const b = ipToBytes(ip)
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
  return mapped ? bytesToIp(b.subarray(12)) : bytesToIp(b)
}

/** True when two endpoints are the same IP (normalised) and port. */
export function sameEndpoint(
  a: { host: string; port: number },
  b: { host: string; port: number },
): boolean {
  return a.port === b.port && normalizeIp(a.host) === normalizeIp(b.host)
}
