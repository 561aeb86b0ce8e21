import { execFileSync } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { requireBinary, type ServerProcess, spawnServer } from './process.js'

/** How to start coturn. Every field has a loopback-only default. */
export interface CoturnOptions {
  /** Primary listen IP (default `127.0.0.1`). */
  host?: string
  /** Second listen IP; with it coturn turns RFC 5780 on (default `127.0.0.2`). */
  altHost?: string
  /** Listen port; the alternate port is port + 1. Default: a pair free on both IPs, UDP and TCP. */
  port?: number
  /** Long-term credentials (`-a -u user:password -r realm`). */
  user?: string
  password?: string
  realm?: string
  /** Relay IP for TURN allocations (default `host`). */
  relayHost?: string
  /**
   * Relay IPs, one per family (e.g. `['::1', '127.0.0.1']`: clients pick one with
   * REQUESTED-ADDRESS-FAMILY). Wins over `relayHost`.
   */
  relayHosts?: readonly string[]
  /** Relay port range (default: coturn's own). */
  minPort?: number
  maxPort?: number
  /** `--allow-loopback-peers`, needed to relay to 127.x peers (default true). */
  allowLoopbackPeers?: boolean
  /**
   * Also listen for TURN over TLS on this host, with a fresh self-signed certificate for
   * `host` (made with the `openssl` CLI); the PEM is in `Coturn.tls.cert` for the client's `ca`.
   */
  tls?: boolean
  /** Appended to the command line. */
  extraArgs?: readonly string[]
  /** Default 10 s. */
  readyTimeoutMs?: number
}

/** A running coturn: where it listens, its credentials, and how to stop it. */
export interface Coturn {
  readonly host: string
  readonly altHost: string
  readonly port: number
  readonly altPort: number
  readonly realm: string
  readonly user: string
  readonly password: string
  readonly pid: number
  /** With `tls: true`: the TLS port and the self-signed certificate (PEM) to trust. */
  readonly tls?: { readonly port: number; readonly cert: string }
  /** What coturn logged so far. */
  output(): string
  /** SIGTERM (then SIGKILL) by PID, and removes the temporary directory. */
  stop(): Promise<void>
}

const NOBODY = 65534

/**
 * Starts a real coturn (Debian `coturn`) on loopback, as `nobody` via `setpriv` when run as
 * root, with this command line: two listen IPs (so RFC 5780 is on), ports
 * P and P+1 on each, UDP and TCP, static long-term credentials, no TLS/DTLS/CLI. Ready once a
 * real STUN Binding is answered on (host, port) and (altHost, port + 1), and TCP accepts.
 * Throws `MissingServerError` when coturn is not installed (a failure, never a skip).
 */
export async function startCoturn(opts: CoturnOptions = {}): Promise<Coturn> {
  const turnserver = requireBinary('turnserver', 'coturn')
  const asRoot = process.getuid?.() === 0
  const setpriv = asRoot ? requireBinary('setpriv', 'util-linux') : undefined
  const host = opts.host ?? '127.0.0.1'
  const altHost = opts.altHost ?? '127.0.0.2'
  const user = opts.user ?? 'p2pd'
  const password = opts.password ?? 'secret'
  const realm = opts.realm ?? 'p2pd.test'

  let lastError: unknown
  // A port pair found free can be taken before coturn binds it: retry with a new pair.
  for (let attempt = 0; attempt < (opts.port ? 1 : 3); attempt++) {
    const port = opts.port ?? (await freePortPair([host, altHost]))
    const dir = mkdtempSync(join(tmpdir(), 'p2pd-coturn-'))
    const tls = opts.tls ? { port: await freePort(host), ...selfSigned(dir, host) } : undefined
    if (asRoot) {
      chownSync(dir, NOBODY, NOBODY)
      if (tls) for (const f of [tls.certFile, tls.keyFile]) chownSync(f, NOBODY, NOBODY)
    }
    const args = [
      '-n',
      '-L',
      host,
      '-L',
      altHost,
      '-p',
      String(port),
      '--alt-listening-port',
      String(port + 1),
      ...(opts.relayHosts ?? [opts.relayHost ?? host]).flatMap((ip) => ['-E', ip]),
      ...(opts.minPort ? [`--min-port=${opts.minPort}`] : []),
      ...(opts.maxPort ? [`--max-port=${opts.maxPort}`] : []),
      '-a',
      '-u',
      `${user}:${password}`,
      '-r',
      realm,
      ...(tls
        ? [`--tls-listening-port=${tls.port}`, `--cert=${tls.certFile}`, `--pkey=${tls.keyFile}`]
        : ['--no-tls']),
      '--no-dtls',
      '--no-cli',
      ...((opts.allowLoopbackPeers ?? true) ? ['--allow-loopback-peers'] : []),
      '-f',
      '--log-file=stdout',
      '--simple-log',
      `--db=${join(dir, 'turndb')}`,
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      ...(opts.extraArgs ?? []),
    ]
    const command = setpriv ?? turnserver
    const fullArgs = setpriv
      ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', turnserver, ...args]
      : args
    let proc: ServerProcess
    try {
      proc = await spawnServer({
        name: 'coturn',
        command,
        args: fullArgs,
        readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
        ready: async () =>
          (await stunProbe(host, port)) &&
          (await stunProbe(altHost, port + 1)) &&
          (await tcpProbe(host, port)) &&
          (!tls || (await tcpProbe(host, tls.port))),
      })
    } catch (err) {
      rmSync(dir, { recursive: true, force: true })
      lastError = err
      continue
    }
    return {
      host,
      altHost,
      port,
      altPort: port + 1,
      realm,
      user,
      password,
      pid: proc.pid,
      ...(tls ? { tls: { port: tls.port, cert: readFileSync(tls.certFile, 'utf8') } } : {}),
      output: () => proc.output(),
      async stop() {
        await proc.stop()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  throw lastError
}

/** A port P such that P and P + 1 are free for UDP and TCP on every host. */
export async function freePortPair(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomInt(20_000, 45_000)
    let free = true
    for (const h of hosts) {
      for (const p of [port, port + 1]) {
        if (!(await udpFree(h, p)) || !(await tcpFree(h, p))) free = false
        if (!free) break
      }
      if (!free) break
    }
    if (free) return port
  }
  throw new Error(`no free port pair on ${hosts.join(', ')}`)
}

function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    s.once('error', () => {
      s.close()
      resolve(false)
    })
    s.bind({ port, address: host, exclusive: true }, () => s.close(() => resolve(true)))
  })
}

function tcpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)))
  })
}

/**
 * Sends one minimal STUN Binding request (RFC 8489 header, random transaction id) and waits
 * up to `timeoutMs` for a Binding success response with the same id from that address.
 */
export function stunProbe(host: string, port: number, timeoutMs = 300): Promise<boolean> {
  const request = Buffer.alloc(20)
  request.writeUInt16BE(0x0001, 0)
  request.writeUInt32BE(0x2112a442, 4)
  randomBytes(12).copy(request, 8)
  return new Promise((resolve) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    const done = (ok: boolean) => {
      clearTimeout(timer)
      s.close()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    s.once('error', () => done(false))
    s.on('message', (msg, rinfo) => {
      if (rinfo.address !== host || rinfo.port !== port || msg.length < 20) return
      if (msg.readUInt16BE(0) === 0x0101 && msg.subarray(8, 20).equals(request.subarray(8, 20))) {
        done(true)
      }
    })
    s.send(request, port, host)
  })
}

function tcpProbe(host: string, port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port })
    const done = (ok: boolean) => {
      clearTimeout(timer)
      s.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

/** A one-day self-signed P-256 certificate for `ip` (subjectAltName IP), via the openssl CLI. */
function selfSigned(dir: string, ip: string): { certFile: string; keyFile: string } {
  const openssl = requireBinary('openssl', 'openssl')
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  execFileSync(
    openssl,
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-days', '1', '-subj', `/CN=${ip}`, '-addext', `subjectAltName=IP:${ip}`,
      '-keyout', keyFile, '-out', certFile,
    ], // biome-ignore format: flag/value pairs
    { stdio: 'ignore' },
  )
  return { certFile, keyFile }
}
