import { createSocket, type Socket } from 'node:dgram'
import type { Endpoint } from '@p2pd/interface'
import {
  AttrType,
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  longTermKey,
  newTransactionId,
  readAttributes,
  StunClass,
  StunMethod,
} from '@p2pd/stun'

/**
 * Raw TURN traffic for abuse tests: a UDP source that logs every byte both ways, and the
 * Allocates an attacker sends by hand. Loopback addresses only.
 */

/** One datagram in a {@link RawUdpSource}'s log. */
export interface Logged {
  readonly at: number
  readonly bytes: number
}

/** A raw UDP socket on a loopback address; logs every byte it sends and receives. */
export class RawUdpSource {
  readonly sent: Logged[] = []
  readonly replies: Array<Logged & { readonly msg: Buffer }> = []

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg) =>
      this.replies.push({ at: performance.now(), bytes: msg.length, msg }),
    )
  }

  static async open(address = '127.0.0.1'): Promise<RawUdpSource> {
    const socket = createSocket('udp4')
    await new Promise<void>((r) => socket.bind(0, address, () => r()))
    return new RawUdpSource(socket)
  }

  send(bytes: Buffer, to: Endpoint): void {
    this.sent.push({ at: performance.now(), bytes: bytes.length })
    this.socket.send(bytes, to.port, to.host)
  }

  bytesSent(): number {
    return total(this.sent)
  }

  bytesReceived(): number {
    return total(this.replies)
  }

  /** The reply to the request with this transaction id, if one came. */
  replyTo(tid: Uint8Array): Buffer | undefined {
    return this.replies.find((r) => r.msg.subarray(8, 20).equals(Buffer.from(tid)))?.msg
  }

  answered(tid: Uint8Array): boolean {
    return this.replyTo(tid) !== undefined
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()))
  }
}

const total = (xs: readonly Logged[]) => xs.reduce((n, x) => n + x.bytes, 0)

/**
 * For each reply, the bytes the server sent (`out`) and received (`in`) over the window of
 * `windowMs` ending at that reply: what an anti-amplification bound is judged on.
 */
export function replyWindows(
  source: RawUdpSource,
  windowMs = 10_000,
): Array<{ out: number; in: number }> {
  return source.replies.map((r) => {
    const inside = (x: Logged) => x.at > r.at - windowMs && x.at <= r.at
    return { out: total(source.replies.filter(inside)), in: total(source.sent.filter(inside)) }
  })
}

/** An unsigned Allocate: 20 bytes bare, or padded with a SOFTWARE attribute. */
export function unsignedAllocate(padding = 0): { bytes: Buffer; tid: Uint8Array } {
  const tid = newTransactionId()
  const attributes = padding > 0 ? [attr.software('p'.repeat(padding))] : []
  const m = createMessage({
    method: StunMethod.Allocate,
    cls: StunClass.Request,
    transactionId: tid,
    attributes,
  })
  return { bytes: encodeMessage(m, {}), tid }
}

/** An Allocate signed with the long-term credentials (MESSAGE-INTEGRITY, FINGERPRINT). */
export function signedAllocate(
  user: string,
  password: string,
  realm: string,
  nonce: string,
): { bytes: Buffer; tid: Uint8Array } {
  const tid = newTransactionId()
  const m = createMessage({
    method: StunMethod.Allocate,
    cls: StunClass.Request,
    transactionId: tid,
    attributes: [
      attr.uint32(AttrType.RequestedTransport, 17 << 24),
      attr.username(user),
      attr.realm(realm),
      attr.nonce(nonce),
    ],
  })
  const key = longTermKey(user, realm, password, 'md5')
  const bytes = encodeMessage(m, { integrity: { key, algorithm: 'sha1' }, fingerprint: true })
  return { bytes, tid }
}

/** Realm and nonce from a 401, asked for with a request big enough to pay for the answer. */
export async function challenge(
  source: RawUdpSource,
  to: Endpoint,
): Promise<{ realm: string; nonce: string }> {
  const req = unsignedAllocate(200)
  source.send(req.bytes, to)
  for (let i = 0; i < 100 && !source.answered(req.tid); i++) {
    await new Promise((r) => setTimeout(r, 10))
  }
  const reply = source.replyTo(req.tid)
  if (!reply) throw new Error('no 401 to a paid-for Allocate')
  const attrs = readAttributes(decodeMessage(reply))
  return { realm: attrs.realm ?? '', nonce: attrs.nonce ?? '' }
}
