import { parseIp } from '@p2pd/address'
import { PortMapError } from './errors.js'

/**
 * PCP carries every address in 16 bytes: IPv6 as is, IPv4 as `::ffff:a.b.c.d` (RFC 6887 §5).
 *
 * @throws {@link PortMapError} `PORTMAP_BAD_ARGUMENT` when `ip` is not an IP address
 */
export function ipTo16(ip: string): Uint8Array {
  const parsed = parseIp(ip)
  if (typeof parsed === 'string') {
    throw new PortMapError('PORTMAP_BAD_ARGUMENT', `${JSON.stringify(ip)} ${parsed}`)
  }
  const out = new Uint8Array(16)
  if (parsed.kind === 'ipv4') {
    out[10] = 0xff
    out[11] = 0xff
    out.set(parsed.address.split('.').map(Number), 12)
    return out
  }
  const groups = parsed.address.split(':')
  for (let k = 0; k < 8; k++) {
    const g = Number.parseInt(groups[k] as string, 16)
    out[2 * k] = g >> 8
    out[2 * k + 1] = g & 255
  }
  return out
}

/** The text of a 16-byte PCP address: dotted quad when IPv4-mapped, else exploded IPv6. */
export function ipFrom16(bytes: Uint8Array): string {
  let mapped = bytes[10] === 0xff && bytes[11] === 0xff
  for (let k = 0; k < 10 && mapped; k++) mapped = bytes[k] === 0
  if (mapped) return bytes.subarray(12, 16).join('.')
  const groups: string[] = []
  for (let k = 0; k < 16; k += 2) {
    groups.push(
      (((bytes[k] as number) << 8) | (bytes[k + 1] as number)).toString(16).padStart(4, '0'),
    )
  }
  return groups.join(':')
}

/** True for the all-zero address (`::` or `::ffff:0.0.0.0`): "no preference" in a request. */
export function isUnspecified16(bytes: Uint8Array): boolean {
  const ip = ipFrom16(bytes)
  return ip === '0.0.0.0' || /^[0:]+$/.test(ip)
}
