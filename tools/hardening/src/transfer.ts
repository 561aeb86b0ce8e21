// Fault-injection helpers: a transfer that records how each end of a pipe ended.
import type { Duplex } from 'node:stream'
import { sleep } from '@p2pd/interface'

/**
 * A writer kept busy: 16 KiB every 5 ms while less than 256 KiB waits. Counts the bytes the
 * pipe accepted (write callback without error) and the reader's delivered bytes, and when and
 * how each end ended.
 */
export function transfer(writer: Duplex, reader: Duplex) {
  const t = {
    accepted: 0,
    delivered: 0,
    writerEnd: undefined as { at: number; error?: Error } | undefined,
    readerEnd: undefined as { at: number; error?: Error } | undefined,
  }
  const chunk = Buffer.alloc(16 * 1024, 0x5a)
  const timer = setInterval(() => {
    if (writer.destroyed || writer.writableEnded || writer.writableLength > 256 * 1024) return
    writer.write(chunk, (err) => {
      if (!err) t.accepted += chunk.length
    })
  }, 5)
  const watch = (pipe: Duplex, set: (e: { at: number; error?: Error }) => void) => {
    let done = false
    const end = (error?: Error) => {
      if (done) return
      done = true
      set({ at: performance.now(), ...(error ? { error } : {}) })
    }
    pipe.on('error', (e) => end(e))
    pipe.once('close', () => end(pipe.errored ?? undefined))
  }
  watch(writer, (e) => {
    t.writerEnd = e
    clearInterval(timer)
  })
  watch(reader, (e) => {
    t.readerEnd = e
  })
  reader.on('data', (d: Buffer) => {
    t.delivered += d.length
  })
  return {
    state: t,
    stop: () => clearInterval(timer),
    /** Resolves once `bytes` were delivered (the fault then lands mid-transfer). */
    flowing: async (bytes: number, signal: AbortSignal) => {
      while (t.delivered < bytes) await sleep(20, signal)
    },
  }
}

/** Waits until `check()` holds, polling every 20 ms, for at most `limitMs`. */
export async function until(check: () => boolean, limitMs: number, signal: AbortSignal) {
  const t0 = performance.now()
  while (!check() && performance.now() - t0 < limitMs) await sleep(20, signal)
}
