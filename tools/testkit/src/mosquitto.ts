import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mqttAnswers } from './mqtt-probe.js'
import { freePort } from './ports.js'
import { requireBinary, type ServerProcess, spawnServer } from './process.js'

/** How to start mosquitto. Every field has a loopback-only default. */
export interface MosquittoOptions {
  /** TCP listen port on 127.0.0.1 (default: a free one). */
  port?: number
  /** Extra `mosquitto.conf` lines, appended after the defaults. */
  extraConfig?: readonly string[]
  /** Default 10 s. */
  readyTimeoutMs?: number
}

/** A running loopback mosquitto. */
export interface Mosquitto {
  readonly host: '127.0.0.1'
  readonly port: number
  /** `mqtt://127.0.0.1:<port>`. */
  readonly url: string
  /** PID of the current process (changes on {@link restart}). */
  readonly pid: number
  /** What mosquitto logged so far (current process). */
  output(): string
  /** Stops the process by PID but keeps the config: {@link restart} brings it back. */
  kill(): Promise<void>
  /** Stops the process (if running) and starts it again with the same config on the same port. */
  restart(): Promise<void>
  /** Stops the process by PID and removes the temporary directory. */
  stop(): Promise<void>
}

const NOBODY = 65534

/**
 * Starts a real mosquitto (Debian `mosquitto`) with a temporary config: one TCP listener on
 * 127.0.0.1 and a free port, anonymous clients, no persistence, log to stderr, and no
 * websockets listener (Debian's binds every interface; use `startAedes({ ws: true })` for
 * MQTT over WebSocket). As root it runs as `nobody` through `setpriv`, so it never needs the
 * `mosquitto` user to read the temporary files. Ready once a real MQTT CONNECT is accepted.
 *
 * The queue limit is raised (`max_queued_messages 100000`) so that burst tests measure our
 * code, not mosquitto's default of 1000 queued messages per client.
 *
 * @throws `MissingServerError` when mosquitto is not installed (a failure, never a skip).
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const mosquitto = requireBinary('mosquitto', 'mosquitto')
  const asRoot = process.getuid?.() === 0
  const setpriv = asRoot ? requireBinary('setpriv', 'util-linux') : undefined
  const port = opts.port ?? (await freePort('127.0.0.1'))
  const dir = mkdtempSync(join(tmpdir(), 'p2pd-mosquitto-'))
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'max_queued_messages 100000',
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  )
  chmodSync(conf, 0o644)
  if (asRoot) chownSync(dir, NOBODY, NOBODY)

  const command = setpriv ?? mosquitto
  const args = setpriv
    ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', mosquitto, '-c', conf]
    : ['-c', conf]
  const spawn = () =>
    spawnServer({
      name: 'mosquitto',
      command,
      args,
      ready: () => mqttAnswers(port),
      readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
    })

  let proc: ServerProcess | undefined
  try {
    proc = await spawn()
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  let current: ServerProcess | undefined = proc
  let lastPid = proc.pid
  return {
    host: '127.0.0.1',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get pid() {
      return current?.pid ?? lastPid
    },
    output: () => current?.output() ?? '',
    async kill() {
      await current?.stop()
      current = undefined
    },
    async restart() {
      await current?.stop()
      current = undefined
      current = await spawn()
      lastPid = current.pid
    },
    async stop() {
      await current?.stop()
      current = undefined
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
