import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { encodeFrame, FrameDecoder } from '../../src/framing.js'

/** Two in-memory duplexes wired back to back (Node 20 has no `stream.duplexPair`). */
export function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        peer().push(chunk)
        callback()
      },
      final(callback) {
        peer().push(null)
        callback()
      },
      // Like a TCP reset/close: the other end sees end-of-stream.
      destroy(error, callback) {
        const other = peer()
        if (!other.destroyed && !other.readableEnded) other.push(null)
        callback(error)
      },
    })
  const a: Duplex = make(() => b)
  const b: Duplex = make(() => a)
  return [a, b]
}

/** Two connected loopback TCP sockets; `close()` releases the server. */
export async function tcpPair(): Promise<{ client: Socket; server: Socket; close: () => void }> {
  const listener = createServer()
  listener.listen(0, '127.0.0.1')
  await once(listener, 'listening')
  const { port } = listener.address() as { port: number }
  const accepted = once(listener, 'connection') as Promise<[Socket]>
  const client = connect(port, '127.0.0.1')
  await once(client, 'connect')
  const [server] = await accepted
  listener.close()
  return { client, server, close: () => listener.close() }
}

/**
 * A man in the middle between two in-memory pairs: forwards bytes both ways, passing each
 * chunk through `tamper[direction]` when set (return the chunks to forward instead).
 */
export function middlebox(): {
  left: Duplex
  right: Duplex
  tamper: { toRight?: (chunk: Buffer) => Buffer[]; toLeft?: (chunk: Buffer) => Buffer[] }
  endRight: () => void
} {
  const [left, leftInner] = duplexPair()
  const [rightInner, right] = duplexPair()
  const tamper: { toRight?: (chunk: Buffer) => Buffer[]; toLeft?: (chunk: Buffer) => Buffer[] } = {}
  leftInner.on('data', (chunk: Buffer) => {
    for (const c of tamper.toRight ? tamper.toRight(chunk) : [chunk]) rightInner.write(c)
  })
  rightInner.on('data', (chunk: Buffer) => {
    for (const c of tamper.toLeft ? tamper.toLeft(chunk) : [chunk]) leftInner.write(c)
  })
  leftInner.on('end', () => rightInner.end())
  rightInner.on('end', () => leftInner.end())
  leftInner.on('error', () => {})
  rightInner.on('error', () => {})
  return { left, right, tamper, endRight: () => rightInner.end() }
}

/**
 * Turns a frame-level tamper function into a chunk-level one: reassembles whole frames
 * (length prefix included) from the chunks, whatever their boundaries.
 */
export function framewise(
  tamper: (frame: Buffer, index: number) => Buffer[],
): (chunk: Buffer) => Buffer[] {
  const decoder = new FrameDecoder()
  let index = 0
  return (chunk) => {
    decoder.push(Buffer.from(chunk))
    const out: Buffer[] = []
    for (let body = decoder.next(); body; body = decoder.next()) {
      out.push(...tamper(encodeFrame(body), index++))
    }
    return out
  }
}
