import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import {
  AbortError,
  abortReason,
  Deadline,
  P2pdError,
  type PipePath,
  type StrategyName,
  TimeoutError,
} from '@p2pd/interface'
import { defaultCiphers } from './cipher-preference.js'
import { ChannelError, IdentityError } from './errors.js'
import { encodeFrame, FrameDecoder } from './framing.js'
import { noiseCredentials, verifyIdentityPayload } from './handshake-payload.js'
import {
  channelPrologue,
  chooseCipher,
  createHello,
  decodeHello,
  encodeHello,
  HELLO_LENGTH,
  resolveInitiator,
} from './hello.js'
import { Identity, isNodeId } from './keys.js'
import type { NoiseCipher } from './noise/cipher-state.js'
import { DHLEN, generateX25519 } from './noise/dh.js'
import { HandshakeState } from './noise/handshake.js'
import { SecurePipe } from './secure-pipe.js'
import { openFrame, sealFrame } from './transport-frame.js'

/** Default handshake deadline. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

/** Default rekey interval: every 2^20 frames per direction (≤ 64 GiB under one key). */
export const DEFAULT_REKEY_INTERVAL = 2 ** 20

/** Who may be on the other end: one node ID, or a predicate over the proven node ID. */
export type ExpectedPeer = string | ((nodeId: string) => boolean | Promise<boolean>)

/** Options of {@link secureChannel}. */
export interface SecureChannelOptions {
  /** Our identity; its node ID is what the peer sees, proven by a signature. */
  readonly identity: Identity
  /**
   * The peer we accept: its node ID, or a predicate (`() => true` accepts anyone, explicitly).
   * Checked as soon as the peer's identity is proven, before any user data; a mismatch is a
   * `CHANNEL_PEER_MISMATCH` error. The Noise initiator checks before revealing its own identity.
   */
  readonly expectedPeer: ExpectedPeer
  /** Our role wish: `true` if we dialled. Both `true` (simultaneous open) is resolved by the hello. */
  readonly initiator: boolean
  readonly signal?: AbortSignal
  /** Handshake deadline (default 10 s); on expiry the promise rejects with a `TimeoutError`. */
  readonly timeoutMs?: number
  /** Recorded on the pipe (default `'direct'`). */
  readonly strategy?: StrategyName
  /** Recorded on the pipe; by default taken from a `net.Socket`'s addresses. */
  readonly path?: PipePath
  /**
   * Rekey after this many frames per direction (default 2^20). Both sides must agree: it is
   * bound into the Noise prologue, so a mismatch fails the handshake instead of the stream.
   */
  readonly rekeyInterval?: number
  /** Keep our write side open after the peer's close (default `false`, like `net.Socket`). */
  readonly allowHalfOpen?: boolean
  /** How long `pipe.close()` waits for the peer's close before destroying (default 2 s). */
  readonly closeTimeoutMs?: number
  /**
   * The AEADs we offer, most preferred first (default: `['AESGCM', 'ChaChaPoly']` where the CPU
   * has AES instructions, else `['ChaChaPoly']`). The initiator's preference wins among those
   * both offer; none in common is a `CHANNEL_HELLO` error.
   */
  readonly ciphers?: readonly NoiseCipher[]
}

/** Handshake messages are a few hundred bytes; anything larger is an attack or a bug. */
const MAX_HANDSHAKE_FRAME = 1024
/** Bytes buffered during the handshake before the stream is paused (pipelined user data). */
const MAX_HANDSHAKE_BUFFER = 256 * 1024
/** The responder's first transport frame: "I accept you". The initiator returns only after it. */
const ACCEPT = Buffer.from([1])

/** Reads the hello and handshake frames off the stream, with the deadline and a byte cap. */
class HandshakeReader {
  readonly #stream: Duplex
  readonly #signal: AbortSignal
  readonly #decoder = new FrameDecoder({ maxLength: MAX_HANDSHAKE_FRAME })
  #error: Error | undefined
  #wake: (() => void) | undefined
  #pausedByUs = false
  readonly #failListeners = new Set<() => void>()

  readonly #onData = (chunk: Buffer) => {
    this.#decoder.push(chunk)
    if (this.#decoder.buffered > MAX_HANDSHAKE_BUFFER && !this.#pausedByUs) {
      this.#pausedByUs = true
      this.#stream.pause()
    }
    this.#notify()
  }
  readonly #onEnd = () =>
    this.#fail(new ChannelError('CHANNEL_CLOSED', 'peer closed during the handshake'))
  readonly #onClose = () =>
    this.#fail(new ChannelError('CHANNEL_CLOSED', 'stream closed during the handshake'))
  readonly #onError = (err: Error) =>
    this.#fail(new ChannelError('CHANNEL_CLOSED', `stream failed: ${err.message}`, { cause: err }))
  readonly #onAbort = () => this.#fail(abortReason(this.#signal))

  constructor(stream: Duplex, signal: AbortSignal) {
    this.#stream = stream
    this.#signal = signal
    stream.on('data', this.#onData)
    stream.on('end', this.#onEnd)
    stream.on('close', this.#onClose)
    stream.on('error', this.#onError)
    // The channel owns the stream from here: start it flowing even if an earlier reader (a
    // preamble parser that unshifted what followed) left it explicitly paused.
    stream.resume()
    signal.addEventListener('abort', this.#onAbort)
    if (signal.aborted) this.#onAbort()
    else if (stream.destroyed) this.#onClose()
    else if (stream.readableEnded) this.#onEnd()
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  #fail(err: Error): void {
    this.#error ??= err
    this.#notify()
    for (const listener of this.#failListeners) listener()
  }

  /** Throws the first failure (abort, timeout, stream gone), if any. */
  check(): void {
    if (this.#error) throw this.#error
  }

  async #next<T>(read: () => T | undefined): Promise<T> {
    for (;;) {
      this.check()
      const value = read()
      if (value !== undefined) return value
      if (this.#pausedByUs) {
        this.#pausedByUs = false
        this.#stream.resume()
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
    }
  }

  readHello(): Promise<Buffer> {
    return this.#next(() => this.#decoder.nextRaw(HELLO_LENGTH))
  }

  readFrame(): Promise<Buffer> {
    return this.#next(() => this.#decoder.next())
  }

  /** Awaits `promise`, but gives up on abort, timeout or a dead stream. */
  async race<T>(promise: Promise<T>): Promise<T> {
    this.check()
    let onFail: (() => void) | undefined
    const failed = new Promise<never>((_, reject) => {
      onFail = () => reject(this.#error)
    })
    failed.catch(() => {})
    this.#failListeners.add(onFail as () => void)
    try {
      return await Promise.race([promise, failed])
    } finally {
      this.#failListeners.delete(onFail as () => void)
    }
  }

  write(bytes: Buffer): void {
    this.check()
    this.#stream.write(bytes)
  }

  /** Stops reading (the stream is left paused) and returns the bytes not consumed yet. */
  detach(): Buffer[] {
    this.#stream.pause()
    this.#stream.off('data', this.#onData)
    this.#stream.off('end', this.#onEnd)
    this.#stream.off('close', this.#onClose)
    this.#stream.off('error', this.#onError)
    this.#signal.removeEventListener('abort', this.#onAbort)
    return this.#decoder.drain()
  }
}

function defaultPath(stream: Duplex): PipePath {
  if (stream instanceof Socket) {
    return {
      local: { host: stream.localAddress ?? '', port: stream.localPort ?? 0 },
      remote: { host: stream.remoteAddress ?? '', port: stream.remotePort ?? 0 },
      relayed: false,
    }
  }
  return { local: { host: '', port: 0 }, remote: { host: '', port: 0 }, relayed: false }
}

async function isExpected(expected: ExpectedPeer, nodeId: string): Promise<boolean> {
  return typeof expected === 'string' ? expected === nodeId : (await expected(nodeId)) === true
}

// Node IDs already checked as `expectedPeer` (the curve check costs ~0.1 ms in pure JS; a node
// dials the same few peers again and again).
const checkedNodeIds = new Set<string>()

function isCheckedNodeId(nodeId: string): boolean {
  if (checkedNodeIds.has(nodeId)) return true
  if (!isNodeId(nodeId)) return false
  if (checkedNodeIds.size >= 1024) checkedNodeIds.clear()
  checkedNodeIds.add(nodeId)
  return true
}

const KNOWN_CIPHERS: readonly NoiseCipher[] = ['ChaChaPoly', 'AESGCM']

function checkCiphers(ciphers: readonly NoiseCipher[] | undefined): readonly NoiseCipher[] {
  if (ciphers === undefined) return defaultCiphers()
  if (
    !Array.isArray(ciphers) ||
    ciphers.length === 0 ||
    ciphers.length > KNOWN_CIPHERS.length ||
    new Set(ciphers).size !== ciphers.length ||
    !ciphers.every((c) => KNOWN_CIPHERS.includes(c))
  ) {
    throw new TypeError(`ciphers must be distinct names among ${KNOWN_CIPHERS.join(', ')}`)
  }
  return ciphers
}

function checkOptions(options: SecureChannelOptions): number {
  if (!(options.identity instanceof Identity)) throw new TypeError('identity must be an Identity')
  const expected = options.expectedPeer
  if (typeof expected === 'string') {
    if (!isCheckedNodeId(expected)) {
      throw new IdentityError('IDENTITY_INVALID_NODE_ID', 'expectedPeer is not a node ID')
    }
  } else if (typeof expected !== 'function') {
    throw new TypeError('expectedPeer must be a node ID or a predicate')
  }
  const rekeyInterval = options.rekeyInterval ?? DEFAULT_REKEY_INTERVAL
  if (!Number.isSafeInteger(rekeyInterval) || rekeyInterval < 1 || rekeyInterval > 2 ** 32) {
    throw new RangeError('rekeyInterval must be an integer in [1, 2^32]')
  }
  return rekeyInterval
}

/**
 * Runs the p2pd secure-channel handshake over `stream` and returns the authenticated,
 * encrypted {@link SecurePipe} (a `Pipe`). From then on the pipe owns the stream.
 *
 * 1. Both sides send a 24-byte hello (role wish, the ciphers they speak, a random nonce) that
 *    settles who is the Noise initiator, even when both dialled, and the AEAD: the initiator's
 *    most preferred cipher that both speak (see `hello.ts`). The side that wished to initiate
 *    pipelines Noise message 1 right behind its hello, so the normal case costs no extra trip.
 * 2. `Noise_XX_25519_<AESGCM|ChaChaPoly>_SHA256`, prologue `p2pd/v2/noise ‖ rekeyInterval ‖
 *    initiator's hello ‖ responder's hello` (a rewritten hello fails the handshake). Messages 2
 *    and 3 carry each side's node public key and its ECDSA-secp256k1 (low-s) signature over its
 *    Noise static key, encrypted (identities are hidden from passive observers; the initiator's
 *    from active ones too until it has verified the responder).
 * 3. Each side checks `expectedPeer`. The responder then sends an encrypted accept frame; the
 *    initiator returns only after it, so neither side ever hands out a pipe the other refused.
 *
 * On any failure the stream is destroyed and the promise rejects with a `ChannelError`
 * (`CHANNEL_HELLO`, `CHANNEL_HANDSHAKE`, `CHANNEL_AUTH`, `CHANNEL_PEER_MISMATCH`,
 * `CHANNEL_FRAME_TOO_LARGE`, `CHANNEL_CLOSED`, …), a `TimeoutError` or an `AbortError`.
 * Bad options reject with `IdentityError`/`TypeError`/`RangeError` (the stream is untouched).
 */
export async function secureChannel(
  stream: Duplex,
  options: SecureChannelOptions,
): Promise<SecurePipe> {
  const rekeyInterval = checkOptions(options)
  const ciphers = checkCiphers(options.ciphers)
  const deadline = new Deadline(
    options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    options.signal,
    'secure channel handshake',
  )
  const reader = new HandshakeReader(stream, deadline.signal)
  try {
    const credentials = noiseCredentials(options.identity)
    const mine = createHello(options.initiator, ciphers)
    const myHello = encodeHello(mine)
    // Reads the peer's identity payload, checks its proof over the Noise static key, then that
    // it is the peer we expect — before we send or accept any user data.
    const authenticate = async (hs: HandshakeState, frame: Buffer): Promise<string> => {
      const peer = verifyIdentityPayload(hs.readMessage(frame), hs.remoteStatic as Buffer)
      if (!(await reader.race(isExpected(options.expectedPeer, peer)))) {
        throw new ChannelError('CHANNEL_PEER_MISMATCH', `peer ${peer} is not the expected one`)
      }
      return peer
    }
    // A would-be initiator pipelines Noise message 1 (`e`, in clear: it does not depend on the
    // cipher or the prologue) behind its hello, so the usual case costs no extra round trip.
    const ephemeral = options.initiator ? generateX25519() : undefined
    reader.write(ephemeral ? Buffer.concat([myHello, encodeFrame(ephemeral.publicRaw)]) : myHello)
    const theirHello = await reader.readHello()
    const theirs = decodeHello(theirHello)
    const initiator = resolveInitiator(mine, theirs)
    const handshake = new HandshakeState({
      initiator,
      cipher: initiator ? chooseCipher(mine, theirs) : chooseCipher(theirs, mine),
      prologue: initiator
        ? channelPrologue(rekeyInterval, myHello, theirHello)
        : channelPrologue(rekeyInterval, theirHello, myHello),
      staticKey: credentials.staticKey,
      ...(initiator && ephemeral ? { ephemeralKey: ephemeral } : {}),
    })

    let remotePeer: string
    if (initiator) {
      const message1 = handshake.writeMessage() // = ephemeral.publicRaw when already sent
      if (!ephemeral) {
        reader.write(encodeFrame(message1))
      } else if (theirs.wantsInitiator) {
        // Simultaneous open: the peer also sent a message 1, abandoned now that it lost.
        const abandoned = await reader.readFrame()
        if (abandoned.length !== DHLEN) {
          throw new ChannelError('CHANNEL_HANDSHAKE', 'bad abandoned message 1')
        }
      }
      remotePeer = await authenticate(handshake, await reader.readFrame())
      reader.write(encodeFrame(handshake.writeMessage(credentials.payload)))
    } else {
      if (handshake.readMessage(await reader.readFrame()).length !== 0) {
        throw new ChannelError('CHANNEL_HANDSHAKE', 'unexpected payload in message 1')
      }
      reader.write(encodeFrame(handshake.writeMessage(credentials.payload)))
      remotePeer = await authenticate(handshake, await reader.readFrame())
    }
    const result = handshake.result
    if (!result) throw new ChannelError('CHANNEL_HANDSHAKE', 'handshake did not complete')
    if (initiator) {
      const accept = openFrame(result.receive, await reader.readFrame(), rekeyInterval)
      if (!accept.equals(ACCEPT)) throw new ChannelError('CHANNEL_HANDSHAKE', 'bad accept frame')
    } else {
      reader.write(sealFrame(result.send, ACCEPT, rekeyInterval))
    }
    reader.check()
    const leftover = reader.detach()
    return new SecurePipe({
      stream,
      send: result.send,
      receive: result.receive,
      remotePeer,
      strategy: options.strategy ?? 'direct',
      path: options.path ?? defaultPath(stream),
      handshakeHash: result.handshakeHash,
      rekeyInterval,
      leftover,
      allowHalfOpen: options.allowHalfOpen ?? false,
      closeTimeoutMs: options.closeTimeoutMs ?? 2_000,
    })
  } catch (err) {
    reader.detach()
    stream.on('error', () => {}) // we are abandoning it: late errors are not news
    stream.destroy()
    throw toTyped(err)
  } finally {
    deadline.dispose()
  }
}

function toTyped(err: unknown): Error {
  if (err instanceof P2pdError) return err
  if (err instanceof Error && err.name === 'TimeoutError')
    return new TimeoutError(err.message, { cause: err })
  if (err instanceof Error && err.name === 'AbortError')
    return new AbortError(err.message, { cause: err })
  return new ChannelError('CHANNEL_HANDSHAKE', `handshake failed: ${(err as Error)?.message}`, {
    cause: err,
  })
}
