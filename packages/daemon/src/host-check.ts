import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { DaemonError, HttpError } from './errors.js'

// DNS rebinding: a page on evil.example whose name is re-pointed at 127.0.0.1 reaches the
// daemon as the same origin, so no Origin header is sent; its requests still carry
// `Host: evil.example`. The daemon answers only to Host values that name itself.

/** `name`, `name:port`, `[v6]` or `[v6]:port`: what a Host header may look like here. */
const HOST = /^(\[[0-9a-f:.]{2,45}\]|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)(?::(\d{1,5}))?$/
/** A DNS name the caller may add to the allowed ones. */
const NAME = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]'])

/** Which `Host` values the daemon answers to. */
export class HostPolicy {
  readonly #names: ReadonlySet<string>
  readonly #addresses: ReadonlySet<string>
  readonly #wildcard: boolean
  #port = 0

  /**
   * @param listenHost - the bind address (or name) the daemon listens on.
   * @param extra - more names clients use for this machine (`p2pd.internal`); no ports.
   */
  constructor(listenHost: string, extra: readonly string[] = []) {
    const names = new Set(['localhost'])
    const addresses = new Set(['127.0.0.1', '::1'])
    for (const raw of extra) {
      const name = raw.toLowerCase()
      if (isIP(name)) addresses.add(canonicalIp(name))
      else if (NAME.test(name)) names.add(name)
      else throw new DaemonError('DAEMON_HOSTS', `not a host name: '${raw.slice(0, 100)}'`)
    }
    const listen = listenHost.toLowerCase().replace(/^\[|\]$/g, '')
    this.#wildcard = WILDCARDS.has(listen)
    if (isIP(listen)) {
      if (!this.#wildcard) addresses.add(canonicalIp(listen))
    } else if (NAME.test(listen)) names.add(listen)
    this.#names = names
    this.#addresses = addresses
  }

  /** The port the daemon got (known once it listens); a Host with another port is refused. */
  set port(port: number) {
    this.#port = port
  }

  /**
   * 421 `HOST_FORBIDDEN` unless the request's `Host` names this daemon: `localhost`, a
   * loopback address, the listen address (any of this machine's addresses when it listens on
   * all), or a configured name; with this daemon's port or none. A request without `Host`
   * (HTTP/1.0 tools) passes: every browser sends one.
   */
  check(req: IncomingMessage): void {
    const host = req.headers.host
    if (host === undefined) return
    if (!this.allows(host)) {
      throw new HttpError(
        421,
        'HOST_FORBIDDEN',
        `this daemon does not answer to Host '${host.slice(0, 100)}'`,
      )
    }
  }

  /** True when `host` (a Host header's value) names this daemon. */
  allows(host: string): boolean {
    const m = HOST.exec(host.toLowerCase())
    if (!m) return false
    if (m[2] !== undefined && Number(m[2]) !== this.#port) return false
    const name = (m[1] as string).replace(/^\[|\]$/g, '')
    if (!isIP(name)) return this.#names.has(name)
    if ((m[1] as string).startsWith('[') !== (isIP(name) === 6)) return false
    const ip = canonicalIp(name)
    return this.#addresses.has(ip) || (this.#wildcard && localAddresses().has(ip))
  }
}

/** One spelling per address (`::0:1` and `::1` are the same). */
function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip
}

/** This machine's interface addresses (for a daemon listening on all of them). */
function localAddresses(): Set<string> {
  const all = new Set<string>()
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) all.add(canonicalIp(a.address.replace(/%.*$/, '')))
  }
  return all
}
