import type { Readable, Writable } from 'node:stream'
import type { Pipe } from '@p2pd/interface'
import { P2pdError } from '@p2pd/interface'

/**
 * The CLI's own framing inside a pipe, so that each side can say "my input ended" while still
 * reading (a pipe itself closes both ways at once) and the two commands can agree on what the
 * pipe is for: `[type u8][length u32 BE][payload]`.
 */
export const DATA = 0
export const EOF = 1
export const CONTROL = 2

/** Largest payload accepted from a peer: bounds what one frame can make us buffer. */
export const MAX_FRAME_PAYLOAD = 1 << 20
/** Largest control message (JSON) accepted from a peer. */
const MAX_CONTROL = 64 * 1024
/** Local input is cut into frames of at most this many bytes. */
const CHUNK = 64 * 1024

export class SessionError extends P2pdError {
  constructor(message: string) {
    super('CLI_SESSION', message)
  }
}

export interface Frame {
  readonly type: number
  readonly payload: Buffer
}

/** Waits until `stream` can take more, or fails if it closes first. */
export function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', onDrain)
      stream.off('close', onClose)
      stream.off('error', onError)
      if (err) reject(err)
      else resolve()
    }
    const onDrain = () => done()
    const onClose = () => done(new SessionError('the connection closed while sending'))
    const onError = (err: Error) => done(err)
    stream.once('drain', onDrain)
    stream.once('close', onClose)
    stream.once('error', onError)
  })
}

/** A pipe read and written as frames. */
export class FramedPipe {
  readonly pipe: Pipe
  readonly #chunks: AsyncIterator<Buffer>
  #buffer: Buffer = Buffer.alloc(0)

  constructor(pipe: Pipe) {
    this.pipe = pipe
    this.#chunks = pipe[Symbol.asyncIterator]()
  }

  /** The next frame, or undefined when the pipe ended cleanly between frames. */
  async next(): Promise<Frame | undefined> {
    for (;;) {
      if (this.#buffer.length >= 5) {
        const type = this.#buffer[0] as number
        const length = this.#buffer.readUInt32BE(1)
        if (type > CONTROL || length > MAX_FRAME_PAYLOAD) {
          throw new SessionError('the peer sent a malformed frame (not a p2pd command?)')
        }
        if (this.#buffer.length >= 5 + length) {
          const payload = this.#buffer.subarray(5, 5 + length)
          this.#buffer = this.#buffer.subarray(5 + length)
          return { type, payload }
        }
      }
      const { value, done } = await this.#chunks.next()
      if (done) {
        if (this.#buffer.length > 0) throw new SessionError('the peer went away mid-frame')
        return undefined
      }
      this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, value]) : value
    }
  }

  /** Writes one frame, waiting while the pipe is full. */
  async write(type: number, payload: Buffer = Buffer.alloc(0)): Promise<void> {
    const header = Buffer.alloc(5)
    header[0] = type
    header.writeUInt32BE(payload.length, 1)
    if (this.pipe.destroyed) throw new SessionError('the connection is closed')
    this.pipe.write(header)
    if (!this.pipe.write(payload)) await drained(this.pipe)
  }

  async sendControl(message: object): Promise<void> {
    await this.write(CONTROL, Buffer.from(JSON.stringify(message)))
  }

  /** The next frame, which must be a control message (a JSON object). */
  async readControl<T extends object>(): Promise<T> {
    const frame = await this.next()
    if (!frame) throw new SessionError('the peer closed the connection')
    if (frame.type !== CONTROL || frame.payload.length > MAX_CONTROL) {
      throw new SessionError('the peer sent data where a control message was expected')
    }
    try {
      const v = JSON.parse(frame.payload.toString('utf8'))
      if (typeof v !== 'object' || v === null) throw new Error('not an object')
      return v as T
    } catch {
      throw new SessionError('the peer sent a malformed control message')
    }
  }

  /** Ends the pipe after what was written, and waits until it is closed. */
  async close(): Promise<void> {
    await this.pipe.close().catch(() => {})
  }
}

/** What a dialer asks the listening command for. */
export type Purpose = 'pipe' | 'tunnel' | 'receive'

interface Hello {
  readonly p2pd?: number
  readonly want?: string
}
interface Answer {
  readonly ok?: boolean
  readonly error?: string
}

/** Dialer side: says what it wants; throws with the listener's reason when it refuses. */
export async function requestPurpose(framed: FramedPipe, want: Purpose): Promise<void> {
  await framed.sendControl({ p2pd: 1, want })
  const answer = await framed.readControl<Answer>()
  if (answer.ok !== true) {
    throw new SessionError(`the peer refused: ${String(answer.error ?? 'no reason given')}`)
  }
}

/** Listener side: accepts only `serves`; answers a mismatch with a reason and fails. */
export async function answerPurpose(framed: FramedPipe, serves: Purpose): Promise<void> {
  const hello = await framed.readControl<Hello>()
  if (hello.p2pd !== 1 || hello.want !== serves) {
    const command = { pipe: 'p2pd listen', tunnel: 'p2pd tunnel --expose', receive: 'p2pd send' }
    const error = `this peer runs \`${command[serves]}\`, which does not serve '${String(hello.want)}'`
    await framed.sendControl({ ok: false, error }).catch(() => {})
    throw new SessionError(`a peer asked for '${String(hello.want)}'; refused`)
  }
  await framed.sendControl({ ok: true })
}

/**
 * Copies `input` to the peer and the peer's data to `output`, passing each side's end of
 * input on as an EOF frame (the other side then ends `output`). Resolves when both
 * directions have ended, then closes the pipe.
 */
export async function splice(framed: FramedPipe, input: Readable, output: Writable): Promise<void> {
  const upstream = (async () => {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      for (let off = 0; off < buf.length; off += CHUNK) {
        await framed.write(DATA, buf.subarray(off, off + CHUNK))
      }
    }
    await framed.write(EOF)
  })()
  const downstream = (async () => {
    for (;;) {
      const frame = await framed.next()
      if (!frame) throw new SessionError('the peer closed the connection before its end of data')
      if (frame.type === EOF) break
      if (frame.type !== DATA) throw new SessionError('unexpected control message mid-stream')
      if (!output.write(frame.payload)) await drained(output)
    }
    await new Promise<void>((resolve) => output.end(resolve))
  })()
  try {
    await Promise.all([upstream, downstream])
  } catch (err) {
    framed.pipe.destroy()
    throw err
  }
  await framed.close()
}
