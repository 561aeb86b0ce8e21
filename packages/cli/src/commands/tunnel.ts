import { connect, createServer, type Socket } from 'node:net'
import type { Pipe } from '@p2pd/interface'
import { UsageError } from '../args.js'
import type { Io } from '../command.js'
import { describeError } from '../describe-error.js'
import { answerPurpose, FramedPipe, requestPurpose, splice } from '../framing.js'
import {
  ALLOW_FLAG,
  describePeer,
  parseNodeArgs,
  peerAddressArg,
  withNode,
} from '../node-command.js'

/** Streams carried at once, each its own pipe; more wait in the node's queue or are refused. */
const MAX_STREAMS = 256

/** `[HOST:]PORT` → host (default 127.0.0.1) and port. */
export function parseHostPort(text: string, flag: string, min = 1): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(text)
  const port = Number(m?.[2])
  if (!m || port < min || port > 65535) {
    throw new UsageError(`${flag} takes [HOST:]PORT (port ${min}–65535), not '${text}'`)
  }
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port }
}

/**
 * `p2pd tunnel --expose [HOST:]PORT` serves a local TCP service to peers (each stream a pipe);
 * `p2pd tunnel <address> --local [HOST:]PORT` carries each local TCP connection to the peer.
 * Both run until Ctrl-C/SIGTERM and then exit 0.
 */
export async function tunnelCommand(argv: readonly string[], io: Io): Promise<number> {
  const { flags, positionals } = parseNodeArgs(
    argv,
    { ...ALLOW_FLAG, expose: { type: 'string' }, local: { type: 'string' } },
    1,
  )
  const expose = flags.expose as string | undefined
  const local = flags.local as string | undefined
  if ((expose === undefined) === (local === undefined)) {
    throw new UsageError(
      'tunnel needs either --expose [HOST:]PORT or <address> --local [HOST:]PORT',
    )
  }
  if (expose !== undefined) {
    if (positionals.length > 0) throw new UsageError('--expose takes no peer address')
    return serve(parseHostPort(expose, '--expose'), flags, io)
  }
  if (flags.allow) throw new UsageError('--allow applies to --expose (who may use the service)')
  const address = peerAddressArg(positionals[0], 'tunnel --local')
  return forward(address, parseHostPort(local as string, '--local', 0), flags, io)
}

function serve(
  target: { host: string; port: number },
  flags: Parameters<typeof withNode>[0],
  io: Io,
): Promise<number> {
  return withNode(flags, io, async ({ node, address }, signal) => {
    io.err(`address: ${address}`)
    io.err(`exposing ${target.host}:${target.port}; on the other machine run:`)
    io.err('  p2pd tunnel <address> --local PORT')
    let active = 0
    for (;;) {
      let pipe: Pipe
      try {
        pipe = await node.accept({ signal })
      } catch (err) {
        if (signal.aborted) return 0
        throw err
      }
      if (active >= MAX_STREAMS) {
        pipe.destroy()
        continue
      }
      active++
      io.err(describePeer(pipe))
      void carryToService(pipe, target, io).finally(() => active--)
    }
  })
}

async function carryToService(pipe: Pipe, target: { host: string; port: number }, io: Io) {
  const framed = new FramedPipe(pipe)
  let socket: Socket | undefined
  try {
    await answerPurpose(framed, 'tunnel')
    socket = await openSocket(target)
    await splice(framed, socket, socket)
  } catch (err) {
    io.err(`p2pd tunnel: stream from ${pipe.remotePeer.slice(0, 16)}…: ${describeError(err)}`)
    pipe.destroy()
  } finally {
    socket?.destroy()
  }
}

function openSocket(target: { host: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ ...target, allowHalfOpen: true })
    socket.once('connect', () => {
      socket.off('error', reject)
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

function forward(
  address: string,
  at: { host: string; port: number },
  flags: Parameters<typeof withNode>[0],
  io: Io,
): Promise<number> {
  return withNode(flags, io, async ({ node }, signal) => {
    let active = 0
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      if (active >= MAX_STREAMS) return void socket.destroy()
      active++
      socket.on('error', () => {})
      void (async () => {
        let framed: FramedPipe | undefined
        try {
          const t0 = performance.now()
          const pipe = await node.connect(address, { signal, upgrade: false })
          io.err(describePeer(pipe, performance.now() - t0))
          framed = new FramedPipe(pipe)
          await requestPurpose(framed, 'tunnel')
          await splice(framed, socket, socket)
        } catch (err) {
          if (!signal.aborted) io.err(`p2pd tunnel: ${describeError(err)}`)
          framed?.pipe.destroy()
        } finally {
          socket.destroy()
          active--
        }
      })()
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new UsageError(`cannot listen on ${at.host}:${at.port}: ${err.message}`)),
      )
      server.listen(at.port, at.host, () => resolve())
    })
    const bound = server.address()
    const port = typeof bound === 'object' && bound ? bound.port : at.port
    io.err(`forwarding ${at.host}:${port} to the peer's exposed service; Ctrl-C stops`)
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve()
      signal.addEventListener('abort', () => resolve(), { once: true })
    })
    server.close()
    return 0
  })
}
