import { randomBytes } from 'node:crypto'
import { createSocket, type RemoteInfo } from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { abortReason, TimeoutError, throwIfAborted } from '@p2pd/interface'
import { DISCARDED_REPLY_CODES, NtpError } from './errors.js'
import { type Hold, operationDeadline } from './hold.js'
import { localNow, localNowError } from './local-clock.js'
import { encodePacket, NtpMode } from './packet.js'
import { type NtpMeasurement, parseReply } from './reply.js'
import { type NtpServerAddress, type NtpServerSpec, parseServer } from './server-spec.js'
import type { NtpTimestamp } from './timestamp.js'

/** One validated SNTP sample from one server. */
export interface NtpSample extends NtpMeasurement {
  /** The server's key (`host:port`, `[v6]:port`), as given. */
  readonly server: string
  /** The IP address that answered. */
  readonly address: string
  readonly port: number
  /** Bound (ms) on the error of our own t0/t3 against the system clock (see `localNow`). */
  readonly localError: number
}

export interface QueryOptions {
  signal?: AbortSignal
  /** Deadline for DNS, send and reply together (default 2000 ms). */
  timeoutMs?: number
}

/** Default deadline of one SNTP query. */
export const DEFAULT_QUERY_TIMEOUT_MS = 2000

/**
 * Sends one SNTP client request (RFC 4330/5905, version 4, mode 3) and resolves with the
 * validated sample.
 *
 * The request carries a random 64-bit transmit timestamp instead of our clock reading: the
 * server only echoes it, our own send/receive times are kept locally, so the nonce gives 64
 * bits against blind spoofing and tells the server nothing about our clock (as RFC 5905 and
 * the NTP data-minimization draft suggest). Replies from another address/port, of the wrong
 * mode or without our nonce are dropped and the query keeps waiting; if only such replies
 * came, it fails with `NTP_NO_VALID_REPLY`. A genuine reply that is unusable (Kiss-o'-Death,
 * unsynchronized, stratum 16, zero timestamps) fails at once with its own code.
 *
 * @throws {@link NtpError}, {@link KissOfDeathError}, `TimeoutError`, `AbortError`
 */
export function querySntp(server: NtpServerSpec, options: QueryOptions = {}): Promise<NtpSample> {
  return sntpQuery(server, options, 'hold')
}

/** {@link querySntp}; with `'background'` its socket and timer do not keep the process alive. */
export async function sntpQuery(
  server: NtpServerSpec,
  options: QueryOptions,
  hold: Hold,
): Promise<NtpSample> {
  const target = parseServer(server)
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS
  const deadline = operationDeadline(timeoutMs, options.signal, `SNTP query to ${target.key}`, hold)
  try {
    return await query(target, deadline.signal, hold)
  } finally {
    deadline.dispose()
  }
}

async function query(
  target: NtpServerAddress,
  signal: AbortSignal,
  hold: Hold,
): Promise<NtpSample> {
  throwIfAborted(signal)
  const address = await resolve(target.host, signal)
  const family = isIP(address)

  // Sub-millisecond local times for t0/t3, from one anchor so the pair is consistent.
  const wall0 = localNow()
  const perf0 = performance.now()
  const localError = localNowError()
  const now = () => wall0 + (performance.now() - perf0)

  const nonce = randomNonce()
  const request = encodePacket({ version: 4, mode: NtpMode.Client, transmitTimestamp: nonce })
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4')
  if (hold === 'background') socket.unref()
  let onAbort = () => {}
  try {
    return await new Promise<NtpSample>((resolvePromise, reject) => {
      let discarded = 0
      let lastDiscard: NtpError | undefined
      let t0 = 0
      onAbort = () => {
        const reason = abortReason(signal)
        if (discarded > 0 && reason instanceof TimeoutError) {
          reject(
            new NtpError(
              'NTP_NO_VALID_REPLY',
              `no valid reply from ${target.key} before the deadline; discarded ${discarded}` +
                ` (last: ${lastDiscard?.message})`,
              { cause: lastDiscard },
            ),
          )
        } else reject(reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      socket.on('error', (err) =>
        reject(new NtpError('NTP_NETWORK', `NTP socket error: ${err.message}`, { cause: err })),
      )
      socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
        const t3 = now()
        try {
          if (normalizeIp(rinfo.address) !== address || rinfo.port !== target.port) {
            throw new NtpError(
              'NTP_SOURCE_MISMATCH',
              `reply from ${rinfo.address}:${rinfo.port}, expected ${address}:${target.port}`,
            )
          }
          const m = parseReply(msg, { origin: nonce, t0, t3, server: target.key })
          resolvePromise({ ...m, server: target.key, address, port: target.port, localError })
        } catch (err) {
          if (err instanceof NtpError && DISCARDED_REPLY_CODES.has(err.code)) {
            discarded++
            lastDiscard = err
          } else reject(err)
        }
      })
      t0 = now()
      socket.send(request, target.port, address, (err) => {
        if (err) {
          reject(
            new NtpError('NTP_NETWORK', `cannot send to ${target.key}: ${err.message}`, {
              cause: err,
            }),
          )
        }
      })
    })
  } finally {
    signal.removeEventListener('abort', onAbort)
    socket.removeAllListeners('message')
    try {
      socket.close()
    } catch {}
  }
}

function randomNonce(): NtpTimestamp {
  for (;;) {
    const b = randomBytes(8)
    const ts = { seconds: b.readUInt32BE(0), fraction: b.readUInt32BE(4) }
    if (ts.seconds !== 0 || ts.fraction !== 0) return ts
  }
}

async function resolve(host: string, signal: AbortSignal): Promise<string> {
  if (isIP(host)) return normalizeIp(host)
  let onAbort = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    const found = await Promise.race([lookup(host), aborted])
    return normalizeIp(found.address)
  } catch (err) {
    if (signal.aborted) throw abortReason(signal)
    throw new NtpError('NTP_NETWORK', `cannot resolve ${host}: ${(err as Error).message}`, {
      cause: err,
    })
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Canonical text of an IP address, so a reply's source compares equal to what we asked. */
function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1)
  } catch {
    return ip.toLowerCase()
  }
}
