import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { P2pdError } from '@p2pd/interface'
import { freePort } from './ports.js'
import { requireBinary, type ServerProcess, spawnServer } from './process.js'

/** chronyd refuses to start unless it runs as root (`Fatal error : Not superuser`). */
export class ChronyNeedsRootError extends P2pdError {
  declare readonly code: 'TESTKIT_CHRONY_NEEDS_ROOT'

  constructor() {
    super(
      'TESTKIT_CHRONY_NEEDS_ROOT',
      'chronyd needs root to start (it drops to _chrony itself); run the chrony tests as root',
    )
  }
}

/** A running loopback chronyd that answers SNTP. */
export interface ChronyServer {
  readonly host: '127.0.0.1'
  readonly port: number
  readonly pid: number
  /** chronyd's log so far. */
  output(): string
  /** Stops chronyd by its PID and removes its temporary directory. */
  stop(): Promise<void>
}

/** True when this process may start chronyd. */
export function canRunChrony(): boolean {
  return process.getuid?.() === 0
}

/**
 * Starts `chronyd -x -d` (never touches the system clock, stays in the foreground) with a
 * temporary config: SNTP on 127.0.0.1 and a free port, `local stratum 8` so it serves the system
 * clock without upstream servers, no command port or socket, pid and drift files in a
 * temporary directory. Ready once it gives a real SNTP reply.
 *
 * @throws `MissingServerError` without chronyd (Debian `chrony`), {@link ChronyNeedsRootError}
 * when not root.
 */
export async function startChrony(
  options: { readyTimeoutMs?: number } = {},
): Promise<ChronyServer> {
  const chronyd = requireBinary('chronyd', 'chrony')
  if (!canRunChrony()) throw new ChronyNeedsRootError()
  const port = await freePort('127.0.0.1')
  const dir = mkdtempSync(join(tmpdir(), 'p2pd-chrony-'))
  // chronyd drops to its own user before writing the drift file; let it write in our dir.
  const uid = chronyUid()
  if (uid !== undefined) chownSync(dir, uid, 0)
  const conf = join(dir, 'chrony.conf')
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bindaddress 127.0.0.1',
      'local stratum 8',
      'allow 127.0.0.0/8',
      'cmdport 0',
      'bindcmdaddress /', // no Unix command socket either: several instances may run at once
      `driftfile ${join(dir, 'drift')}`,
      `pidfile ${join(dir, 'chronyd.pid')}`,
      '',
    ].join('\n'),
  )
  let proc: ServerProcess
  try {
    proc = await spawnServer({
      name: 'chronyd',
      command: chronyd,
      args: ['-x', '-d', '-f', conf],
      ready: () => sntpAnswers(port),
      readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
    })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return {
    host: '127.0.0.1',
    port,
    pid: proc.pid,
    output: () => proc.output(),
    async stop() {
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function chronyUid(): number | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('_chrony:'))
    const uid = Number(line?.split(':')[2])
    return Number.isInteger(uid) ? uid : undefined
  } catch {
    return undefined
  }
}

/**
 * Readiness probe: one SNTP client request; true on a server-mode reply with stratum 1–15
 * that echoes our random transmit timestamp.
 */
export function sntpAnswers(port: number, host = '127.0.0.1', timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4')
    const request = Buffer.alloc(48)
    request[0] = 0x23 // LI 0, version 4, mode 3 (client)
    randomBytes(8).copy(request, 40)
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.close()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.on('error', () => done(false))
    socket.on('message', (msg) => {
      if (msg.length < 48) return
      const mode = (msg[0] as number) & 7
      const stratum = msg[1] as number
      if (
        mode === 4 &&
        stratum >= 1 &&
        stratum <= 15 &&
        msg.subarray(24, 32).equals(request.subarray(40, 48))
      ) {
        done(true)
      }
    })
    socket.send(request, port, host)
  })
}
