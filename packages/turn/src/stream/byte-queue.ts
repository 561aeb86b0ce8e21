/**
 * Bytes written to the stream and not yet cut into segments. Chunks are kept as given (not
 * copied); a segment is a view into one chunk when it fits, else a copy of the pieces.
 */
export class ByteQueue {
  readonly #chunks: Buffer[] = []
  /** Index of the first chunk still holding bytes (shifting a long array per segment is slow). */
  #head = 0
  #bytes = 0

  get bytes(): number {
    return this.#bytes
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#bytes += chunk.length
  }

  /** The next `n` bytes (at most {@link bytes}). */
  take(n: number): Buffer {
    const first = this.#chunks[this.#head] as Buffer
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      this.#consume(first, n)
    } else {
      out = Buffer.allocUnsafe(n)
      let filled = 0
      while (filled < n) {
        const c = this.#chunks[this.#head] as Buffer
        const part = Math.min(c.length, n - filled)
        c.copy(out, filled, 0, part)
        filled += part
        this.#consume(c, part)
      }
    }
    this.#bytes -= n
    return out
  }

  #consume(c: Buffer, n: number): void {
    if (n < c.length) {
      this.#chunks[this.#head] = c.subarray(n)
      return
    }
    this.#head++
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0
      this.#head = 0
    } else if (this.#head >= 1024) {
      this.#chunks.splice(0, this.#head)
      this.#head = 0
    }
  }
}
