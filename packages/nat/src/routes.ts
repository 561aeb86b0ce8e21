import { readFile } from 'node:fs/promises'
import { type NetworkInterfaceInfo, networkInterfaces as osInterfaces } from 'node:os'
import { bytesToIp } from '@p2pd/stun'

/** A default route: the interface it leaves through and its gateway. */
export interface DefaultRoute {
  readonly family: 4 | 6
  readonly iface: string
  /** Gateway address; undefined for a route without one (point-to-point links). */
  readonly gateway?: string
  readonly metric: number
}

/**
 * Default routes in `/proc/net/route` (IPv4): tab-separated columns Iface, Destination,
 * Gateway, Flags, RefCnt, Use, Metric, Mask…, addresses as little-endian hex. A default route
 * has destination and mask 0 and the UP flag (0x1). Sorted by metric.
 */
export function parseProcNetRoute(text: string): DefaultRoute[] {
  const out: DefaultRoute[] = []
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 8) continue
    const [iface, dest, gw, flags, , , metric, mask] = f as [
      string, string, string, string, string, string, string, string,
    ] // biome-ignore format: a tuple of columns
    if (dest !== '00000000' || mask !== '00000000') continue
    if ((Number.parseInt(flags, 16) & 0x1) === 0) continue
    const gwBytes = Buffer.from(gw, 'hex').reverse()
    const gateway = gwBytes.readUInt32BE(0) === 0 ? undefined : bytesToIp(gwBytes)
    out.push({ family: 4, iface, ...(gateway ? { gateway } : {}), metric: Number(metric) || 0 })
  }
  return out.sort((a, b) => a.metric - b.metric)
}

/**
 * Default routes in `/proc/net/ipv6_route`: space-separated dest, dest-len, src, src-len,
 * next hop, metric, refcnt, use, flags, iface; addresses as 32 hex digits, numbers in hex.
 * A default route is ::/0 with the UP flag; loopback "unreachable" entries are skipped.
 */
export function parseProcIpv6Route(text: string): DefaultRoute[] {
  const out: DefaultRoute[] = []
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10) continue
    const [dest, destLen, , , next, metric, , , flags, iface] = f as string[]
    if (dest !== '0'.repeat(32) || destLen !== '00' || !iface || iface === 'lo') continue
    const fl = Number.parseInt(flags ?? '0', 16)
    if ((fl & 0x1) === 0 || fl & 0x200) continue // RTF_UP; skip RTF_REJECT
    const gateway = next && /[1-9a-f]/.test(next) ? bytesToIp(Buffer.from(next, 'hex')) : undefined
    out.push({
      family: 6,
      iface,
      ...(gateway ? { gateway } : {}),
      metric: Number.parseInt(metric ?? '0', 16),
    })
  }
  return out.sort((a, b) => a.metric - b.metric)
}

/**
 * The default routes of this machine (IPv4 then IPv6, best metric first), read from /proc.
 * Where /proc is missing (not Linux) or unreadable, returns `fallback()`'s answer — by
 * default the first non-internal interface of each family, with no gateway.
 */
export async function defaultRoutes(
  opts: { procDir?: string; fallback?: () => DefaultRoute[] } = {},
): Promise<DefaultRoute[]> {
  const dir = opts.procDir ?? '/proc/net'
  const read = (f: string) => readFile(`${dir}/${f}`, 'utf8').catch(() => undefined)
  const [v4, v6] = await Promise.all([read('route'), read('ipv6_route')])
  if (v4 === undefined && v6 === undefined) return (opts.fallback ?? interfaceFallback)()
  return [...(v4 ? parseProcNetRoute(v4) : []), ...(v6 ? parseProcIpv6Route(v6) : [])]
}

/** The first non-internal interface per family, as a gateway-less "default route". */
export function interfaceFallback(
  ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = osInterfaces(),
): DefaultRoute[] {
  const out: DefaultRoute[] = []
  for (const family of [4, 6] as const) {
    for (const [name, list] of Object.entries(ifaces)) {
      const hit = list?.find(
        (a) => !a.internal && (a.family === `IPv${family}` || (a.family as unknown) === family),
      )
      if (hit) {
        out.push({ family, iface: name, metric: 0 })
        break
      }
    }
  }
  return out
}
