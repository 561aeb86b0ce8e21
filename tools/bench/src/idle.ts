// Many idle p2pd pipes on one node: this process accepts them (TCP + the secure channel's
// responder side, what a node keeps per pipe) and reports heap and RSS per pipe; a child
// process dials them and holds its ends. Run with a raised fd limit (the parent does).
//   idle.ts hold <pipes>                 prints {"pipes", "heapKiB", "rssKiB", "fdLimit"}
//   idle.ts dial <port>/<nodeId> <pipes>  (the child)
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Duplex } from 'node:stream'
import { generateIdentity } from '@p2pd/identity'
import { securePipe } from './impl/p2pd.js'
import { tcpDial, tcpListen } from './impl/raw.js'

const gc = () => (globalThis as { gc?: () => void }).gc?.()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The soft limit on open files of this process, from /proc (Node has no getrlimit). */
export function fdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))
  return Number(line?.split(/\s+/)[3] ?? Number.NaN)
}

async function settle(): Promise<void> {
  await sleep(500)
  gc()
  await sleep(100)
  gc()
}

async function hold(pipes: number): Promise<void> {
  const identity = generateIdentity()
  const held: Duplex[] = []
  let arrived: () => void = () => {}
  let wanted = 1
  const server = await tcpListen((socket) => {
    socket.on('error', () => {})
    securePipe(socket, identity, false, () => true).then(
      (pipe) => {
        pipe.on('error', () => {})
        held.push(pipe)
        if (held.length >= wanted) arrived()
      },
      () => socket.destroy(),
    )
  })
  let gone: Error | undefined
  let dialerGone: (err: Error) => void = () => {}
  const waitFor = (n: number) =>
    new Promise<void>((resolve, reject) => {
      wanted = n
      arrived = resolve
      dialerGone = reject
      if (held.length >= n) resolve()
      else if (gone) reject(gone)
    })
  const dialer = spawn(
    process.execPath,
    [
      ...process.execArgv,
      process.argv[1] as string,
      'dial',
      `${server.port}/${identity.nodeId}`,
      String(pipes + 1),
    ],
    { stdio: ['pipe', 'inherit', 'inherit'] },
  )
  // A dialler that dies leaves pipes that will never arrive: fail now, not at the parent's
  // 15-minute limit.
  dialer.once('exit', (code, signal) => {
    gone = new Error(`the dialling process exited (${signal ?? code}) with ${held.length} pipes up`)
    dialerGone(gone)
  })
  // The first pipe is the warm-up: module state and caches are not per pipe.
  await waitFor(1)
  await settle()
  const before = process.memoryUsage()
  await waitFor(pipes + 1)
  await settle()
  const after = process.memoryUsage()
  const result = {
    pipes,
    heapKiB: (after.heapUsed - before.heapUsed) / pipes / 1024,
    rssKiB: (after.rss - before.rss) / pipes / 1024,
    fdLimit: fdLimit(),
  }
  dialer.stdin?.end()
  process.stdout.write(`${JSON.stringify(result)}\n`)
  for (const pipe of held) pipe.destroy()
  await server.close()
  process.exit(0)
}

async function dial(address: string, pipes: number): Promise<void> {
  const [port, nodeId] = address.split('/') as [string, string]
  const identity = generateIdentity()
  const held: Duplex[] = []
  let retried = 0
  // A handshake can miss its 10 s deadline on a machine busy holding thousands of pipes: dial
  // that pipe again (counted, reported) rather than losing the run.
  const one = async (): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const pipe = await securePipe(await tcpDial(Number(port)), identity, true, nodeId)
        pipe.on('error', () => {})
        held.push(pipe)
        return
      } catch (err) {
        if (attempt === 3) throw err
        retried++
      }
    }
  }
  await one()
  for (let i = 1; i < pipes; i += 32) {
    await Promise.all(Array.from({ length: Math.min(32, pipes - i) }, one))
  }
  if (retried > 0) process.stderr.write(`idle: ${retried} handshakes dialled again\n`)
  process.stdin.resume()
  process.stdin.once('end', () => process.exit(0))
}

const [mode, a, b] = process.argv.slice(2)
try {
  if (mode === 'hold') await hold(Number(a))
  else await dial(a as string, Number(b))
} catch (err) {
  process.stderr.write(`idle ${mode}: ${(err as Error).message}\n`)
  process.exit(1)
}
