import type { InboundSignal } from '@p2pd/interface'

interface SenderStream {
  stream: string
  /** Next sequence number we expect. */
  next: number
  held: Map<number, InboundSignal>
  timer: NodeJS.Timeout | undefined
}

/**
 * Puts each sender's messages back in publishing order. Copies travel through different
 * brokers, and MQTT orders messages per connection only, so message n+1 can overtake message n.
 * Every envelope carries the sender's stream id (random per sender instance) and a sequence
 * number per recipient; a message that arrives ahead of a gap is held for at most `holdMs`,
 * then the gap is given up (the message may be lost for good) and the held ones go out in
 * order. A message older than the gap still goes out (late rather than never).
 */
export class ReorderBuffer {
  readonly #streams = new Map<string, SenderStream>()

  constructor(
    readonly holdMs: number,
    readonly deliver: (message: InboundSignal) => void,
    readonly maxSenders = 10_000,
    readonly maxHeldPerSender = 256,
  ) {}

  push(stream: string, seq: number, message: InboundSignal): void {
    const from = message.from
    let s = this.#streams.get(from)
    if (s) this.#streams.delete(from) // re-inserted below: least recently used first out
    if (!s || s.stream !== stream) {
      if (s) this.#flush(s)
      s = { stream, next: 0, held: new Map(), timer: undefined }
    }
    this.#streams.set(from, s)
    this.#evict()
    if (seq < s.next) {
      this.deliver(message)
      return
    }
    s.held.set(seq, message)
    this.#drain(s)
    if (s.held.size > this.maxHeldPerSender) this.#flush(s)
    if (s.held.size > 0 && !s.timer) {
      const held = s
      held.timer = setTimeout(() => {
        held.timer = undefined
        this.#flush(held)
      }, this.holdMs)
    }
  }

  /** Drops everything held and cancels the timers. */
  clear(): void {
    for (const s of this.#streams.values()) clearTimeout(s.timer)
    this.#streams.clear()
  }

  #drain(s: SenderStream): void {
    for (let m = s.held.get(s.next); m; m = s.held.get(s.next)) {
      s.held.delete(s.next)
      s.next++
      this.deliver(m)
    }
    if (s.held.size === 0 && s.timer) {
      clearTimeout(s.timer)
      s.timer = undefined
    }
  }

  /** Gives up on the gap: delivers what is held, in order. */
  #flush(s: SenderStream): void {
    clearTimeout(s.timer)
    s.timer = undefined
    const seqs = [...s.held.keys()].sort((a, b) => a - b)
    const last = seqs[seqs.length - 1]
    if (last !== undefined) s.next = last + 1
    const messages = seqs.map((q) => s.held.get(q) as InboundSignal)
    s.held.clear()
    for (const m of messages) this.deliver(m)
  }

  #evict(): void {
    while (this.#streams.size > this.maxSenders) {
      const [from, oldest] = this.#streams.entries().next().value as [string, SenderStream]
      this.#streams.delete(from)
      this.#flush(oldest)
    }
  }
}
