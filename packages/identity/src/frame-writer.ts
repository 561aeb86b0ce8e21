import type { Duplex } from 'node:stream'
import { ChannelError } from './errors.js'
import { LENGTH_PREFIX, MAX_FRAME_PLAINTEXT } from './framing.js'
import { type CipherState, TAG_LENGTH } from './noise/cipher-state.js'
import { sealFrame } from './transport-frame.js'

/** Most ciphertext queued on the stream before a write waits for `drain` (bounds buffering). */
export const WRITE_BATCH = 1024 * 1024

/** Frames up to this size are sealed into one buffer (prefix ‖ ciphertext ‖ tag): one iovec. */
const ONE_BUFFER_FRAME = 16 * 1024

/** Pieces shorter than this are joined before encryption: an `update()` costs ~1 µs. */
const JOIN_BELOW = 4 * 1024

const EMPTY = Buffer.alloc(0)

type Callback = (error?: Error | null) => void

function lengthOf(pieces: readonly Buffer[]): number {
  let n = 0
  for (const p of pieces) n += p.length
  return n
}

/**
 * The sending half of a secure pipe: turns the pipe's writes into transport frames.
 *
 * The first write of a tick that finds the stream idle (nothing carried, nothing queued) and fits
 * one frame is sealed at once, from the caller's buffer: a lone message (request, reply,
 * ping-pong) leaves in the same call, with no copy and nothing deferred. Other writes are
 * coalesced. Plaintext is sealed in full frames (65,519 bytes) as soon as it makes one; what is
 * left over (less than a frame) is carried, so the rest of a burst shares one frame and a 64 KiB
 * write does not leave a 17-byte runt behind it. The carry is sealed at the end of the current
 * tick (`process.nextTick`: after this call stack's writes, before any I/O), or — while the
 * stream is backed up and a frame would only queue behind others — on the turn after the stream
 * drains, so a bulk writer's next writes fill it first.
 * Writes are called back at once while the stream holds less than {@link WRITE_BATCH} of
 * ciphertext, else on its `drain`: memory stays bounded by the stream's queue, one carried frame
 * and the pipe's writable buffer.
 */
export class FrameWriter {
  readonly #stream: Duplex
  readonly #send: CipherState
  readonly #rekeyInterval: number
  /** Plaintext not sealed yet, less than one frame, in order (copies: the caller was called back). */
  #carry: Buffer[] = []
  #carryLength = 0
  #flushQueued = false
  /** A frame was sealed by {@link FrameWriter.#sealNow} in this tick (reset on the next tick). */
  #sealedThisTick = false
  #waiting = false
  /** A write's callback, held until the stream drains. */
  #held: Callback | undefined
  // Listeners made when first needed: an idle pipe should cost as little heap as possible.
  #flush: (() => void) | undefined
  #endTick: (() => void) | undefined
  #onDrain: (() => void) | undefined
  #onClose: (() => void) | undefined

  constructor(stream: Duplex, send: CipherState, rekeyInterval: number) {
    this.#stream = stream
    this.#send = send
    this.#rekeyInterval = rekeyInterval
  }

  #writable(): boolean {
    return !this.#stream.destroyed && !this.#stream.writableEnded
  }

  /** Frames `chunks` (the pipe's `_write`/`_writev`), calling back when it may take more. */
  write(chunks: readonly Buffer[], callback: Callback): void {
    if (!this.#writable()) {
      callback(new ChannelError('CHANNEL_CLOSED', 'stream is closed'))
      return
    }
    const stream = this.#stream
    if (
      !this.#sealedThisTick &&
      this.#carryLength === 0 &&
      stream.writableLength === 0 &&
      !this.#held
    ) {
      const length = chunks.length === 1 ? (chunks[0] as Buffer).length : lengthOf(chunks)
      if (length > 0 && length <= MAX_FRAME_PLAINTEXT) {
        this.#sealNow(chunks, length, callback)
        return
      }
    }
    stream.cork()
    try {
      this.#frame(chunks)
    } catch (err) {
      stream.uncork()
      callback(err as Error)
      return
    }
    stream.uncork()
    if (this.#carryLength > 0 && !this.#flushQueued) {
      this.#flushQueued = true
      this.#flush ??= () => this.#flushCarry()
      process.nextTick(this.#flush)
    }
    if (stream.writableLength >= WRITE_BATCH) {
      this.#held = callback
      this.#waitForDrain()
    } else {
      callback()
    }
  }

  /**
   * The pipe's shortcut for a lone write (skipping its Writable machinery): seals `chunk` at once
   * when {@link FrameWriter.write} would, and says whether it did. An error means the pipe failed.
   */
  sealAtOnce(chunk: Buffer): boolean | Error {
    const length = chunk.length
    if (
      this.#sealedThisTick ||
      this.#carryLength > 0 ||
      this.#held ||
      length === 0 ||
      length > MAX_FRAME_PLAINTEXT ||
      !this.#writable() ||
      this.#stream.writableLength > 0
    ) {
      return false
    }
    try {
      if (length <= ONE_BUFFER_FRAME) {
        this.#stream.write(sealFrame(this.#send, chunk, this.#rekeyInterval))
      } else {
        this.#seal([chunk], length)
      }
    } catch (err) {
      return err as Error
    }
    this.#markSealed()
    return true
  }

  /**
   * The first write of a tick, with the stream idle (nothing carried or queued), that fits one
   * frame: sealed now, straight from the caller's buffer — a lone write leaves at once, with no
   * copy and nothing deferred. Further writes in the same tick take the carry, so a burst costs
   * this frame plus one more.
   */
  #sealNow(chunks: readonly Buffer[], length: number, callback: Callback): void {
    try {
      this.#seal(chunks, length)
    } catch (err) {
      callback(err as Error)
      return
    }
    this.#markSealed()
    callback()
  }

  /** Notes that a frame left at once in this tick: until the next, writes take the carry. */
  #markSealed(): void {
    this.#sealedThisTick = true
    this.#endTick ??= () => {
      this.#sealedThisTick = false
    }
    process.nextTick(this.#endTick)
  }

  /** Seals the carry (if any) and the close frame, then ends the stream. */
  final(callback: Callback): void {
    if (!this.#writable()) {
      callback()
      return
    }
    try {
      if (this.#carryLength > 0) this.#sealCarry()
      this.#stream.write(sealFrame(this.#send, EMPTY, this.#rekeyInterval))
    } catch (err) {
      callback(err as Error)
      return
    }
    this.#stream.end(callback)
  }

  /** Seals every full frame of carry ‖ chunks; the rest becomes the carry. */
  #frame(chunks: readonly Buffer[]): void {
    for (const chunk of chunks) {
      let offset = 0
      while (offset < chunk.length) {
        const rest = chunk.length - offset
        if (this.#carryLength === 0 && rest >= MAX_FRAME_PLAINTEXT) {
          this.#seal([chunk.subarray(offset, offset + MAX_FRAME_PLAINTEXT)], MAX_FRAME_PLAINTEXT)
          offset += MAX_FRAME_PLAINTEXT
          continue
        }
        const take = Math.min(MAX_FRAME_PLAINTEXT - this.#carryLength, rest)
        if (this.#carryLength + take === MAX_FRAME_PLAINTEXT) {
          // Completes a frame: seal straight from the caller's buffer, no copy.
          this.#carry.push(chunk.subarray(offset, offset + take))
          this.#sealCarry()
        } else {
          // Kept past the callback: copy (the caller may reuse its buffer once called back).
          this.#carry.push(Buffer.from(chunk.subarray(offset, offset + take)))
          this.#carryLength += take
        }
        offset += take
      }
    }
  }

  #sealCarry(): void {
    const pieces = this.#carry
    const length = lengthOf(pieces)
    this.#carry = []
    this.#carryLength = 0
    this.#seal(pieces, length)
  }

  /** Seals `pieces` (`length` bytes, ≤ one frame) as one frame onto the stream. */
  #seal(pieces: readonly Buffer[], length: number): void {
    const stream = this.#stream
    if (length <= ONE_BUFFER_FRAME) {
      const plaintext = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, length)
      stream.write(sealFrame(this.#send, plaintext, this.#rekeyInterval))
      return
    }
    // A big frame goes out as prefix, ciphertext piece(s), tag: the ciphertext is never copied.
    const prefix = Buffer.allocUnsafe(LENGTH_PREFIX) // small: from Node's buffer pool
    prefix.writeUInt16BE(length + TAG_LENGTH, 0)
    const cipher = this.#send.beginEncrypt()
    stream.write(prefix)
    let small: Buffer[] = []
    let smallLength = 0
    const joinSmall = () => {
      if (smallLength === 0) return
      stream.write(cipher.update(small.length === 1 ? (small[0] as Buffer) : Buffer.concat(small)))
      small = []
      smallLength = 0
    }
    for (const piece of pieces) {
      if (piece.length < JOIN_BELOW) {
        small.push(piece)
        smallLength += piece.length
        if (smallLength >= JOIN_BELOW) joinSmall()
      } else {
        joinSmall()
        stream.write(cipher.update(piece))
      }
    }
    joinSmall()
    cipher.final()
    stream.write(cipher.getAuthTag())
    if (this.#send.nonce % this.#rekeyInterval === 0) this.#send.rekey()
  }

  #flushCarry(): void {
    this.#flushQueued = false
    if (this.#carryLength === 0 || !this.#writable()) return
    // The stream is backed up: this frame would only queue. Seal it on 'drain' instead, so
    // writes arriving meanwhile fill it (no runt frames in bulk transfers).
    if (this.#held || this.#stream.writableNeedDrain) {
      this.#waitForDrain()
      return
    }
    try {
      this.#sealCarry()
    } catch (err) {
      this.#stream.destroy(err as Error)
    }
  }

  #waitForDrain(): void {
    if (this.#waiting) return
    this.#waiting = true
    this.#onDrain ??= () => this.#drained(undefined)
    this.#onClose ??= () =>
      this.#drained(new ChannelError('CHANNEL_CLOSED', 'stream closed while writing'))
    this.#stream.on('drain', this.#onDrain)
    this.#stream.on('close', this.#onClose)
  }

  #drained(error: Error | undefined): void {
    this.#waiting = false
    this.#stream.off('drain', this.#onDrain as () => void)
    this.#stream.off('close', this.#onClose as () => void)
    const held = this.#held
    this.#held = undefined
    // Calling back may write again at once (the pipe's buffered writes, as one `_writev`),
    // which can fill the carry into a frame before we look at it.
    held?.(error)
    // A writer that waited for our 'drain' writes again within this turn (process.nextTick,
    // promise jobs): give it until the next turn to fill the carry before sealing a runt.
    if (!error && this.#carryLength > 0 && !this.#flushQueued) {
      this.#flushQueued = true
      this.#flush ??= () => this.#flushCarry()
      setImmediate(this.#flush)
    }
  }
}
