import { readFile } from 'node:fs/promises'
import { PortMapError } from './errors.js'

/** One IPv4 route of the kernel's table. */
export interface Route4 {
  readonly iface: string
  readonly destination: string
  readonly gateway: string
  readonly mask: string
  readonly metric: number
}

const RTF_UP = 0x1
const RTF_GATEWAY = 0x2
/** More lines than any routing table a port mapper should read: bounds the work on junk. */
const MAX_ROUTES = 4096

/**
 * Parses Linux's `/proc/net/route` (little-endian hex addresses). Keeps the routes that are up
 * and go through a gateway; skips lines that do not parse.
 *
 * @throws {@link PortMapError} `PORTMAP_MALFORMED` when the header is not the kernel's
 */
export function parseRouteTable(text: string): Route4[] {
  const lines = text.split('\n', MAX_ROUTES + 1)
  if (!/^Iface\s+Destination\s+Gateway\s+Flags/.test(lines[0] ?? '')) {
    throw new PortMapError('PORTMAP_MALFORMED', 'not a /proc/net/route table (header)')
  }
  const routes: Route4[] = []
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 8) continue
    const [iface, dest, gw, flagsHex, , , metricText, maskHex] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    const flags = Number.parseInt(flagsHex, 16)
    const destination = hexToIPv4(dest)
    const gateway = hexToIPv4(gw)
    const mask = hexToIPv4(maskHex)
    const metric = Number(metricText)
    if (!destination || !gateway || !mask || !Number.isInteger(metric)) continue
    if ((flags & (RTF_UP | RTF_GATEWAY)) !== (RTF_UP | RTF_GATEWAY)) continue
    routes.push({ iface, destination, gateway, mask, metric })
  }
  return routes
}

/** `0100A8C0` → `192.168.0.1` (the kernel prints the address in host, i.e. little-endian, order). */
function hexToIPv4(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined
  const n = Number.parseInt(hex, 16)
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.')
}

function toInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0)
}

/**
 * The gateway to ask for a mapping: the next hop of the most specific route to `towards` (a
 * STUN server, say, so the gateway is the one our public traffic leaves by), else of the
 * default route. Lowest metric wins a tie.
 */
export function pickGateway(routes: readonly Route4[], towards?: string): Route4 | undefined {
  const target = towards ? toInt(towards) : 0
  let best: Route4 | undefined
  let bestBits = -1
  for (const r of routes) {
    const mask = toInt(r.mask)
    if ((target & mask) >>> 0 !== (toInt(r.destination) & mask) >>> 0) continue
    const bits = mask.toString(2).replace(/0/g, '').length
    if (bits > bestBits || (bits === bestBits && best && r.metric < best.metric)) {
      best = r
      bestBits = bits
    }
  }
  return best
}

export interface FindGatewayOptions {
  /** An IPv4 address our public traffic goes to; default: follow the default route. */
  readonly towards?: string
  /** Read the table from here (default `/proc/net/route`). */
  readonly routeFile?: string
}

/**
 * The IPv4 gateway that holds our NAT mapping, from the kernel's routing table (Linux).
 *
 * @throws {@link PortMapError} `PORTMAP_NO_GATEWAY` when there is none (or no table to read)
 */
export async function findGateway(options: FindGatewayOptions = {}): Promise<string> {
  const file = options.routeFile ?? '/proc/net/route'
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new PortMapError('PORTMAP_NO_GATEWAY', `cannot read ${file}; pass the gateway`, {
      cause: err,
    })
  }
  const route = pickGateway(parseRouteTable(text), options.towards)
  if (!route) {
    const where = options.towards ? ` towards ${options.towards}` : ' (no default route)'
    throw new PortMapError('PORTMAP_NO_GATEWAY', `no gateway in ${file}${where}`)
  }
  return route.gateway
}
