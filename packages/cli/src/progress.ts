/** Bytes as B, KiB, MiB or GiB with one decimal. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`
}

/**
 * A one-line progress bar (bytes, rate, ETA) redrawn on a terminal at most 5 times a second;
 * on anything else it stays quiet.
 */
export class Progress {
  readonly #total: number
  readonly #stream: NodeJS.WriteStream
  readonly #started = performance.now()
  #done = 0
  #drawnAt = 0

  constructor(total: number, stream: NodeJS.WriteStream = process.stderr) {
    this.#total = total
    this.#stream = stream
  }

  add(bytes: number): void {
    this.#done += bytes
    const now = performance.now()
    if (now - this.#drawnAt >= 200) {
      this.#drawnAt = now
      this.#draw()
    }
  }

  /** Seconds since start and the average rate, for the final summary. */
  finish(): { seconds: number; rate: string } {
    if (this.#stream.isTTY) {
      this.#draw()
      this.#stream.write('\n')
    }
    const seconds = (performance.now() - this.#started) / 1000
    return { seconds, rate: `${formatBytes(this.#done / Math.max(seconds, 1e-3))}/s` }
  }

  #draw(): void {
    if (!this.#stream.isTTY) return
    const seconds = (performance.now() - this.#started) / 1000
    const rate = this.#done / Math.max(seconds, 1e-3)
    const fraction = this.#total > 0 ? this.#done / this.#total : 1
    const width = 24
    const filled = Math.round(fraction * width)
    const eta = rate > 0 ? Math.ceil((this.#total - this.#done) / rate) : 0
    this.#stream.write(
      `\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${formatBytes(this.#done)} / ${formatBytes(this.#total)}  ${formatBytes(rate)}/s  ETA ${eta} s   `,
    )
  }
}
