/**
 * Helpers for strategy runner programs (the process side of the runner protocol; see
 * `protocol.ts`). A runner is any program: these helpers only save TypeScript runners typing.
 */

import { Socket } from 'node:net'
import { createInterface } from 'node:readline'
import type { RunnerConfig, RunnerResult, StartMessage } from './protocol.js'

/** The runner's configuration, from `NATLAB_RUNNER_CONFIG`. */
export function runnerConfig(): RunnerConfig {
  const raw = process.env.NATLAB_RUNNER_CONFIG
  if (!raw) throw new Error('NATLAB_RUNNER_CONFIG is not set: runners are started by the lab')
  return JSON.parse(raw) as RunnerConfig
}

/** Writes one protocol line to stdout. */
export function emit(msg: object): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`)
}

/** Prints the result line and exits (the lab stops waiting at the first result). */
export function finish(result: RunnerResult): never {
  emit({ type: 'result', ...result })
  process.exit(0)
}

/** Resolves with the controller's `start` message (one JSON line on stdin). */
export function waitStart(): Promise<StartMessage> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin })
    rl.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as StartMessage
        if (msg.type === 'start') resolve(msg)
      } catch {}
    })
    rl.on('close', () => reject(new Error('stdin closed before start')))
  })
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)))

export interface HostPort {
  host: string
  port: number
}

export const fmt = (h: HostPort) => `${h.host}:${h.port}`

export function parseHostPort(s: string): HostPort {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}

/** Connects (optionally from a fixed local port); rejects with the errno code, or 'ETIMEDOUT'. */
export function connect(
  to: HostPort,
  opts: { localPort?: number; timeoutMs: number },
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = new Socket()
    const timer = setTimeout(() => {
      s.destroy()
      reject(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }))
    }, opts.timeoutMs)
    s.once('error', (err) => {
      clearTimeout(timer)
      s.destroy()
      reject(err)
    })
    s.once('connect', () => {
      clearTimeout(timer)
      s.removeAllListeners('error')
      s.on('error', () => {})
      resolve(s)
    })
    s.connect({ host: to.host, port: to.port, localPort: opts.localPort })
  })
}

/** Reads one `\n`-terminated line (or rejects after `timeoutMs`). */
export function readLine(s: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => {
      s.off('data', onData)
      reject(Object.assign(new Error('no line from peer'), { code: 'ENOHELLO' }))
    }, timeoutMs)
    const onData = (b: Buffer) => {
      buf += b.toString()
      const nl = buf.indexOf('\n')
      if (nl >= 0) {
        clearTimeout(timer)
        s.off('data', onData)
        resolve(buf.slice(0, nl))
      }
    }
    s.on('data', onData)
  })
}

/** The lab's "seen" service: the public address a TCP connection from `localPort` comes from. */
export async function seenTcp(service: HostPort, localPort: number, timeoutMs = 3000) {
  const s = await connect(service, { localPort, timeoutMs })
  const line = await readLine(s, timeoutMs)
  const m = /^seen (.+)$/.exec(line)
  if (!m) throw new Error(`bad seen line '${line}'`)
  return { socket: s, mapped: parseHostPort(m[1] as string) }
}

/**
 * Proves the data path: both sides send `hello ROLE NONCE` and expect the other role's line.
 * Returns the peer's line, or throws.
 */
export async function exchangeHello(s: Socket, role: string, nonce: string, timeoutMs: number) {
  s.write(`hello ${role} ${nonce}\n`)
  const line = await readLine(s, timeoutMs)
  const want = `hello ${role === 'A' ? 'B' : 'A'} ${nonce}`
  if (line !== want)
    throw Object.assign(new Error(`unexpected hello '${line}'`), { code: 'EBADHELLO' })
  return line
}

/** A random local port outside the NAT profiles' own pools (20000–29999, 50000+). */
export function randomLocalPort(): number {
  return 40000 + Math.floor(Math.random() * 10000)
}

export function errCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  return e?.code ?? e?.message ?? String(err)
}
