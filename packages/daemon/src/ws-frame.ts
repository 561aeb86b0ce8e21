import { DaemonError } from './errors.js'

// RFC 6455 section 5: the frame format, both ways. The server decodes client frames (which
// must be masked) and encodes its own (never masked).

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const
export type Opcode = (typeof Opcode)[keyof typeof Opcode]

/** Close status codes the daemon sends (RFC 6455 §7.4.1). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  TooBig: 1009,
  InternalError: 1011,
} as const

/** One decoded frame. `payload` is already unmasked. */
export interface Frame {
  readonly fin: boolean
  readonly opcode: Opcode
  readonly payload: Buffer
}

/** What the decoder refuses: the largest payload of one frame. */
export interface FrameLimits {
  /** Largest payload of a data frame (bytes); a longer one is refused with close code 1009. */
  readonly maxPayload: number
  /** Require the client's masking bit (true for a server; RFC 6455 §5.1). */
  readonly requireMask: boolean
}

/**
 * A frame the peer must not send. `closeCode` is the status to close the connection with:
 * 1002 (protocol error) or 1009 (too big).
 */
export class WsProtocolError extends DaemonError {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(closeCode === CloseCode.TooBig ? 'WS_TOO_BIG' : 'WS_PROTOCOL', message)
  }
}

const KNOWN = new Set<number>(Object.values(Opcode))

/**
 * Decodes the frame at the start of `buf`: `undefined` when more bytes are needed, else the
 * frame and how many bytes it used. Throws {@link WsProtocolError} on anything RFC 6455 forbids
 * (reserved bits or opcodes, an unmasked client frame, a fragmented or long control frame,
 * a non-minimal or 64-bit-overflowing length) and on a payload over `limits.maxPayload`,
 * checked from the header alone, before the payload arrives.
 */
export function decodeFrame(
  buf: Uint8Array,
  limits: FrameLimits,
): { frame: Frame; size: number } | undefined {
  if (buf.length < 2) return undefined
  const b0 = buf[0] as number
  const b1 = buf[1] as number
  const fin = (b0 & 0x80) !== 0
  if ((b0 & 0x70) !== 0) throw new WsProtocolError(CloseCode.ProtocolError, 'reserved bits set')
  const opcode = b0 & 0x0f
  if (!KNOWN.has(opcode)) {
    throw new WsProtocolError(CloseCode.ProtocolError, `reserved opcode 0x${opcode.toString(16)}`)
  }
  const masked = (b1 & 0x80) !== 0
  if (limits.requireMask && !masked) {
    throw new WsProtocolError(CloseCode.ProtocolError, 'client frames must be masked')
  }
  const control = opcode >= 0x8
  let length = b1 & 0x7f
  let offset = 2
  if (length === 126) {
    if (buf.length < 4) return undefined
    length = ((buf[2] as number) << 8) | (buf[3] as number)
    if (length < 126) throw new WsProtocolError(CloseCode.ProtocolError, 'non-minimal length')
    offset = 4
  } else if (length === 127) {
    if (buf.length < 10) return undefined
    if (((buf[2] as number) & 0x80) !== 0) {
      throw new WsProtocolError(CloseCode.ProtocolError, '64-bit length with the top bit set')
    }
    const high = Buffer.from(buf.buffer, buf.byteOffset + 2, 4).readUInt32BE(0)
    const low = Buffer.from(buf.buffer, buf.byteOffset + 6, 4).readUInt32BE(0)
    if (high > 0x1fffff) throw new WsProtocolError(CloseCode.TooBig, 'frame too big')
    length = high * 2 ** 32 + low
    if (length < 65536) throw new WsProtocolError(CloseCode.ProtocolError, 'non-minimal length')
    offset = 10
  }
  if (control && (length > 125 || !fin)) {
    throw new WsProtocolError(CloseCode.ProtocolError, 'control frames are short and unfragmented')
  }
  if (length > limits.maxPayload) {
    throw new WsProtocolError(CloseCode.TooBig, `frame payload ${length} > ${limits.maxPayload}`)
  }
  const maskAt = offset
  if (masked) offset += 4
  if (buf.length < offset + length) return undefined
  const payload = Buffer.from(buf.subarray(offset, offset + length))
  if (masked) {
    for (let i = 0; i < payload.length; i++) {
      payload[i] = (payload[i] as number) ^ (buf[maskAt + (i & 3)] as number)
    }
  }
  return { frame: { fin, opcode: opcode as Opcode, payload }, size: offset + length }
}

/**
 * Encodes one frame. A server sends unmasked frames; `mask` (4 bytes) is for clients and tests.
 */
export function encodeFrame(
  frame: { fin?: boolean; opcode: Opcode; payload?: Uint8Array },
  mask?: Uint8Array,
): Buffer {
  const payload = frame.payload ?? new Uint8Array(0)
  const n = payload.length
  const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8
  const head = Buffer.alloc(2 + lenBytes + (mask ? 4 : 0))
  head[0] = ((frame.fin ?? true) ? 0x80 : 0) | frame.opcode
  head[1] = (mask ? 0x80 : 0) | (n < 126 ? n : n < 65536 ? 126 : 127)
  if (lenBytes === 2) head.writeUInt16BE(n, 2)
  if (lenBytes === 8) {
    head.writeUInt32BE(Math.floor(n / 2 ** 32), 2)
    head.writeUInt32BE(n >>> 0, 6)
  }
  if (!mask) return Buffer.concat([head, payload])
  head.set(mask.subarray(0, 4), 2 + lenBytes)
  const body = Buffer.from(payload)
  for (let i = 0; i < n; i++) body[i] = (body[i] as number) ^ (mask[i & 3] as number)
  return Buffer.concat([head, body])
}

/** The payload of a close frame: a 2-byte status code and a UTF-8 reason (≤ 123 bytes). */
export function closePayload(code: number, reason = ''): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123)
  const out = Buffer.alloc(2 + text.length)
  out.writeUInt16BE(code, 0)
  text.copy(out, 2)
  return out
}

/**
 * Reads a close frame's payload: empty (no status) or a status code of 1000–4999 that
 * RFC 6455 §7.4 allows on the wire, plus a reason. Anything else is a protocol error.
 */
export function parseClosePayload(payload: Buffer): { code?: number; reason: string } {
  if (payload.length === 0) return { reason: '' }
  if (payload.length === 1) throw new WsProtocolError(CloseCode.ProtocolError, 'close: 1 byte')
  const code = payload.readUInt16BE(0)
  const reserved = code === 1004 || code === 1005 || code === 1006 || code === 1015
  if (code < 1000 || code >= 5000 || reserved || (code > 1014 && code < 3000)) {
    throw new WsProtocolError(CloseCode.ProtocolError, `close: status ${code} not allowed`)
  }
  return { code, reason: payload.subarray(2).toString('utf8') }
}

/**
 * Turns a byte stream into frames, one `push` at a time, holding at most one frame's worth of
 * bytes. Throws {@link WsProtocolError} like {@link decodeFrame}; after a throw, do not push more.
 */
export class FrameDecoder {
  #buf: Buffer = Buffer.alloc(0)

  constructor(readonly limits: FrameLimits) {}

  /** Bytes held that do not make a whole frame yet. */
  get pending(): number {
    return this.#buf.length
  }

  push(chunk: Uint8Array): Frame[] {
    this.#buf = this.#buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buf, chunk])
    const frames: Frame[] = []
    for (;;) {
      const got = decodeFrame(this.#buf, this.limits)
      if (!got) break
      frames.push(got.frame)
      this.#buf = this.#buf.subarray(got.size)
    }
    return frames
  }
}
