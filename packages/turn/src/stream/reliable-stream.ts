import { Duplex } from 'node:stream'
import { StreamError } from '../errors.js'
import { EchoChoice } from './echo.js'
import type { DatagramLink } from './link.js'
import { MtuProbe } from './mtu-probe.js'
import {
  type AckPacket,
  DATA_HEADER_BYTES,
  decodePacket,
  encodeAck,
  encodeData,
  encodeProbe,
  encodeProbeAck,
  encodeRst,
  PacketType,
  RstReason,
} from './packet.js'
import { Receiver } from './receiver.js'
import { Sender, timestamp } from './sender.js'
import type { ReliableStreamOptions, ReliableStreamStats } from './stream-options.js'

export type { ReliableStreamOptions, ReliableStreamStats } from './stream-options.js'

/**
 * While pacing holds segments back, the stream sends again after this long (ms): well inside
 * the sender's 5 ms burst, so the bucket never overflows between two sends.
 */
const PACE_STEP_MS = 2

const reasonCode: Record<number, string> = {
  [RstReason.Closed]: 'closed',
  [RstReason.Error]: 'error',
  [RstReason.IdleTimeout]: 'idle timeout',
  [RstReason.DeadLink]: 'dead link',
}

/**
 * An ordered, reliable, flow- and congestion-controlled byte stream over a lossy datagram
 * link (a TURN relay), as a Node `Duplex` with backpressure both ways.
 *
 * - Writes are cut into numbered segments (`Sender`); the peer acks cumulatively and
 *   selectively; losses are repaired by SACK-driven fast retransmit and an RFC 6298 timer.
 * - Reads come out in order, once (`Receiver`); the advertised window is what is left of
 *   `receiveBufferBytes`, so a slow reader slows the writer down instead of growing memory.
 * - `end()` sends a FIN that takes a sequence number (so it arrives after all data); the
 *   write side finishes once it is acked. Both FINs done: the stream closes and the link is
 *   released after a short linger.
 * - `destroy()` (or an error) sends RST. Keep-alives every `keepAliveMs`; nothing heard for
 *   `idleTimeoutMs` is an error.
 */
export class ReliableStream extends Duplex {
  readonly conv: number
  readonly #link: DatagramLink
  readonly #sender: Sender
  readonly #receiver: Receiver
  readonly #sendBufferBytes: number
  readonly #keepAliveMs: number
  readonly #idleTimeoutMs: number
  readonly #openTimeoutMs: number
  readonly #tickMs: number
  readonly #lingerMs: number
  readonly #closeTimeoutMs: number
  /** The protocol engine outlives the Duplex while a background close completes. */
  #state: 'open' | 'closing' | 'lingering' | 'released' = 'open'
  #tick: NodeJS.Timeout | undefined
  #paceTimer: NodeJS.Timeout | undefined
  #housekeeping: NodeJS.Timeout
  #ackScheduled = false
  /** Which DATA timestamp our next ACK echoes. */
  readonly #echo = new EchoChoice()
  /** The cumulative ack of the last ACK we sent. */
  #ackedUpTo = 0
  #lastSent = performance.now()
  #lastHeard = performance.now()
  #heardPeer = false
  #lastProbe = 0
  #advertised = 0
  #writeCallback: ((err?: Error | null) => void) | undefined
  #finalCallback: ((err?: Error | null) => void) | undefined
  #resolveReleased!: () => void
  /** Resolves once the datagram link is released (after the linger of a clean close). */
  readonly released: Promise<void>
  readonly #mtu: MtuProbe
  #segmentSize: number
  #packetsSent = 0
  #packetsReceived = 0
  #badPackets = 0

  constructor(link: DatagramLink, opts: ReliableStreamOptions) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024 })
    const segmentSize = opts.segmentSize ?? 1200
    this.#segmentSize = segmentSize
    this.conv = opts.conv >>> 0
    this.#link = link
    this.#sendBufferBytes = opts.sendBufferBytes ?? 6 * 1024 * 1024
    this.#keepAliveMs = opts.keepAliveMs ?? 5000
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? 30_000
    this.#openTimeoutMs = opts.openTimeoutMs ?? this.#idleTimeoutMs
    this.#tickMs = opts.tickMs ?? 10
    this.#lingerMs = opts.lingerMs ?? 1000
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 5000
    this.#sender = new Sender({ ...opts, segmentSize })
    this.#receiver = new Receiver({
      segmentSize,
      bufferBytes: opts.receiveBufferBytes ?? 6 * 1024 * 1024,
    })
    this.#advertised = this.#receiver.window(0)
    this.#mtu = new MtuProbe(
      segmentSize + DATA_HEADER_BYTES,
      opts.probeMtu === false ? undefined : link.maxPacketSize,
    )
    this.released = new Promise((resolve) => {
      this.#resolveReleased = resolve
    })
    link.onReceive((packet) => this.#onPacket(packet))
    const every = Math.max(10, Math.min(this.#keepAliveMs, this.#idleTimeoutMs) / 4)
    this.#housekeeping = setInterval(() => this.#housekeep(), every)
    this.#housekeeping.unref()
  }

  get stats(): ReliableStreamStats {
    return {
      packetsSent: this.#packetsSent,
      packetsReceived: this.#packetsReceived,
      retransmits: this.#sender.retransmits,
      timeouts: this.#sender.timeouts,
      spuriousTimeouts: this.#sender.spuriousTimeouts,
      duplicates: this.#receiver.duplicates,
      badPackets: this.#badPackets,
      srttMs: this.#sender.rtt.srtt,
      rtoMs: this.#sender.rtt.rto,
      cwnd: this.#sender.cwnd,
      segmentSize: this.#segmentSize,
      ssthresh: this.#sender.ssthresh,
      inflight: this.#sender.inflightCount,
      lossEvents: this.#sender.lossEvents,
      slowStart: this.#sender.slowStart,
      bdp: this.#sender.bdp,
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#sender.enqueue(chunk)
    this.#flush()
    this.#admit(cb)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    for (const c of chunks) this.#sender.enqueue(c.chunk)
    this.#flush()
    this.#admit(cb)
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#sender.enqueueFin()
    this.#finalCallback = cb
    this.#flush()
  }

  override _read(): void {
    // The reader made room: if the peer may be stalled on a small window, reopen it now.
    const window = this.#receiver.window(this.readableLength)
    if (window > this.#advertised && this.#advertised < 16) this.#sendAck(false)
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const pending = this.#writeCallback ?? this.#finalCallback
    this.#writeCallback = undefined
    this.#finalCallback = undefined
    pending?.(err ?? new StreamError('STREAM_CLOSED', 'stream destroyed'))
    if (this.#state === 'open') {
      if (err) {
        this.#reset(err)
      } else {
        // Like closing a kernel socket: the FIN still goes out after the data written so far.
        this.#state = 'closing'
        this.#sender.enqueueFin()
        this.#flush()
        setTimeout(() => {
          if (this.#state !== 'closing') return
          this.#transmit(encodeRst(this.conv, this.#ts(), RstReason.Closed))
          this.#release()
        }, this.#closeTimeoutMs).unref()
        this.#checkClosed()
      }
    }
    cb(err)
  }

  /** Sends RST (unless the peer sent one) and releases the link now. */
  #reset(err: Error): void {
    // A link-named error (`lostError`) carries the stream's own error as its cause.
    const own = err instanceof StreamError ? err : err.cause
    if (!(own instanceof StreamError && own.code === 'STREAM_RESET')) {
      const reason =
        own instanceof StreamError && own.code === 'STREAM_IDLE_TIMEOUT'
          ? RstReason.IdleTimeout
          : own instanceof StreamError && own.code === 'STREAM_DEAD_LINK'
            ? RstReason.DeadLink
            : RstReason.Error
      this.#transmit(encodeRst(this.conv, this.#ts(), reason))
    }
    this.#release()
  }

  /** The peer is unreachable: fail with the link's name for it (or the stream's own error). */
  #linkDead(cause: StreamError): void {
    const err = this.#link.lostError?.(cause) ?? cause
    if (this.destroyed) this.#reset(err)
    else this.destroy(err)
  }

  #release(): void {
    if (this.#state === 'released') return
    this.#state = 'released'
    clearInterval(this.#housekeeping)
    this.#stopTick()
    Promise.resolve()
      .then(() => this.#link.close())
      .catch(() => {})
      .then(() => this.#resolveReleased())
  }

  #admit(cb: (err?: Error | null) => void): void {
    if (this.#sender.bufferedBytes < this.#sendBufferBytes) cb()
    else this.#writeCallback = cb
  }

  #ts(): number {
    return timestamp(performance.now())
  }

  #transmit(packet: Buffer): void {
    this.#packetsSent++
    this.#lastSent = performance.now()
    this.#link.send(packet)
  }

  #onPacket(bytes: Buffer): void {
    if (this.#state === 'released') return
    let packet: ReturnType<typeof decodePacket>
    try {
      packet = decodePacket(bytes)
    } catch (err) {
      if (!(err instanceof StreamError)) throw err
      this.#badPackets++
      return
    }
    if (packet.conv !== this.conv) {
      this.#badPackets++
      return
    }
    this.#packetsReceived++
    this.#lastHeard = performance.now()
    this.#heardPeer = true
    switch (packet.type) {
      case PacketType.Data: {
        this.#echo.note(packet.seq, packet.ts, this.#ackedUpTo)
        // Once the Duplex is gone (closing, lingering) data is acked and dropped.
        const live = this.#state === 'open' && !this.destroyed
        const arrival = this.#receiver.onData(
          packet.seq,
          packet.payload,
          packet.fin,
          live ? this.readableLength : 0,
        )
        if (live) {
          for (const d of arrival.deliver) this.push(d)
          if (arrival.fin) this.push(null)
        }
        this.#scheduleAck()
        if (arrival.fin) this.#checkClosed()
        break
      }
      case PacketType.Ack:
        if (this.#state !== 'lingering') this.#onAck(packet)
        break
      case PacketType.Probe:
        this.#transmit(encodeProbeAck(this.conv, this.#ts(), packet.size))
        break
      case PacketType.ProbeAck: {
        const size = this.#mtu.onAck(packet.size)
        if (size !== undefined) {
          this.#segmentSize = size - DATA_HEADER_BYTES
          this.#sender.segmentSize = this.#segmentSize
        }
        break
      }
      case PacketType.Rst:
        if (this.#state === 'open' && !this.destroyed) {
          this.destroy(
            new StreamError(
              'STREAM_RESET',
              `peer reset the stream (${reasonCode[packet.reason] ?? packet.reason})`,
            ),
          )
        }
        this.#release()
        break
    }
  }

  #onAck(ack: AckPacket): void {
    this.#sender.onAck(ack, performance.now())
    if (ack.probe) this.#sendAck(false)
    this.#flush()
    if (this.#writeCallback && this.#sender.bufferedBytes < this.#sendBufferBytes) {
      const cb = this.#writeCallback
      this.#writeCallback = undefined
      cb()
    }
    if (this.#sender.finAcked) {
      const cb = this.#finalCallback
      this.#finalCallback = undefined
      cb?.()
      this.#checkClosed()
    }
  }

  /**
   * Both FINs are through: nothing is left to retransmit. Linger a moment (our ACK of the
   * peer's FIN may be lost) and release the link, whether or not the Duplex is consumed yet.
   */
  #checkClosed(): void {
    if (this.#state === 'lingering' || this.#state === 'released') return
    if (!this.#sender.finAcked || !this.#receiver.finDelivered) return
    this.#state = 'lingering'
    this.#stopTick()
    clearInterval(this.#housekeeping)
    setTimeout(() => this.#release(), this.#lingerMs).unref()
  }

  #scheduleAck(): void {
    if (this.#ackScheduled) return
    this.#ackScheduled = true
    setImmediate(() => {
      this.#ackScheduled = false
      if (this.#state !== 'released') this.#sendAck(false)
    })
  }

  #sendAck(probe: boolean): void {
    const window = this.#receiver.window(this.destroyed ? 0 : this.readableLength)
    this.#advertised = window
    this.#transmit(
      encodeAck({
        conv: this.conv,
        ts: this.#ts(),
        cumAck: this.#receiver.expected,
        window,
        echoTs: this.#echo.take(),
        probe,
        ranges: this.#receiver.sackRanges(),
      }),
    )
    this.#ackedUpTo = this.#receiver.expected
  }

  #flush(): void {
    if (this.#state !== 'open' && this.#state !== 'closing') return
    const now = performance.now()
    const { out, dead } = this.#sender.poll(now)
    const ts = this.#ts()
    for (const s of out) this.#transmit(encodeData(this.conv, ts, s.seq, s.data, s.fin))
    if (dead) {
      this.#linkDead(new StreamError('STREAM_DEAD_LINK', 'no acknowledgement after many retries'))
      return
    }
    if (this.#mtu.active && this.#sender.rtt.srtt !== undefined) {
      const size = this.#mtu.due(now, this.#sender.rtt.rto)
      if (size !== undefined) this.#transmit(encodeProbe(this.conv, ts, size))
    }
    if (this.#sender.blockedByPeer && now - this.#lastProbe >= this.#sender.rtt.rto) {
      this.#lastProbe = now
      this.#sendAck(true)
    }
    if (this.#sender.paced) this.#schedulePaced()
    if (this.#sender.inflightCount > 0 || this.#sender.blockedByPeer || this.#sender.paced) {
      this.#startTick()
    } else this.#stopTick()
  }

  /** Segments held back by pacing go out in {@link PACE_STEP_MS}, not at the next tick. */
  #schedulePaced(): void {
    if (this.#paceTimer) return
    this.#paceTimer = setTimeout(() => {
      this.#paceTimer = undefined
      this.#flush()
    }, PACE_STEP_MS)
    this.#paceTimer.unref()
  }

  #startTick(): void {
    if (this.#tick) return
    this.#tick = setInterval(() => this.#flush(), this.#tickMs)
    this.#tick.unref()
  }

  #stopTick(): void {
    if (this.#paceTimer) clearTimeout(this.#paceTimer)
    this.#paceTimer = undefined
    if (!this.#tick) return
    clearInterval(this.#tick)
    this.#tick = undefined
  }

  #housekeep(): void {
    if (this.#state !== 'open' && this.#state !== 'closing') return
    const now = performance.now()
    const limit = this.#heardPeer ? this.#idleTimeoutMs : this.#openTimeoutMs
    if (now - this.#lastHeard > limit) {
      this.#linkDead(
        new StreamError(
          'STREAM_IDLE_TIMEOUT',
          `nothing heard from the peer for ${Math.round(now - this.#lastHeard)} ms`,
        ),
      )
      return
    }
    if (now - this.#lastSent > this.#keepAliveMs) this.#sendAck(false)
  }
}
