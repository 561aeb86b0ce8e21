import { isIP } from 'node:net'
import { NtpError } from './errors.js'

/** The standard NTP port. */
export const NTP_PORT = 123

/**
 * Where to ask: `'host'`, `'host:port'`, `'[v6]:port'`, a bare IPv6 address, or an object.
 * A hostname is resolved on every query.
 */
export type NtpServerSpec = string | { readonly host: string; readonly port?: number }

/** A parsed {@link NtpServerSpec}. */
export interface NtpServerAddress {
  readonly host: string
  readonly port: number
  /** `host:port` (or `[v6]:port`): names the server in samples, errors and kiss records. */
  readonly key: string
}

/** Parses a server specification; throws `NtpError('NTP_BAD_SERVER')`. */
export function parseServer(spec: NtpServerSpec): NtpServerAddress {
  let host: string
  let port = NTP_PORT
  if (typeof spec === 'string') {
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec)
    if (bracketed) {
      host = bracketed[1] as string
      if (bracketed[2] !== undefined) port = Number(bracketed[2])
    } else if (isIP(spec) === 6) {
      host = spec
    } else {
      const colon = spec.lastIndexOf(':')
      if (colon >= 0 && spec.indexOf(':') === colon) {
        host = spec.slice(0, colon)
        port = /^\d+$/.test(spec.slice(colon + 1)) ? Number(spec.slice(colon + 1)) : Number.NaN
      } else {
        host = spec
      }
    }
  } else {
    host = spec.host
    port = spec.port ?? NTP_PORT
  }
  if (!host || /[\s/[\]]/.test(host) || (host.includes(':') && isIP(host) !== 6)) {
    throw new NtpError('NTP_BAD_SERVER', `not an NTP server host: ${JSON.stringify(host)}`)
  }
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new NtpError('NTP_BAD_SERVER', `not a port: ${JSON.stringify(spec)}`)
  }
  const key = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
  return { host, port, key }
}
