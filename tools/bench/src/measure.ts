// What each metric does on the wire, identical for every implementation: the accepting side's
// behaviour (`serve`) and the dialling side's measurement (`measure`).
import type { ByteStream, Dialer } from './stream.js'

export const METRICS = ['bulk', 'echo', 'pingpong', 'dial', 'heap'] as const
export type Metric = (typeof METRICS)[number]

/** Sizes for one run; `--quick` shrinks them. */
export interface Sizes {
  readonly bulkBytes: number
  readonly echoMessages: number
  readonly echoWindow: number
  readonly messageBytes: number
  readonly pingpongs: number
  readonly dials: number
  readonly idleConnections: number
}

export const FULL: Sizes = {
  bulkBytes: 64 * 1024 * 1024,
  echoMessages: 100_000,
  echoWindow: 256,
  messageBytes: 64,
  pingpongs: 10_000,
  dials: 50,
  idleConnections: 1_000,
}

export const QUICK: Sizes = {
  bulkBytes: 8 * 1024 * 1024,
  echoMessages: 10_000,
  echoWindow: 256,
  messageBytes: 64,
  pingpongs: 300,
  dials: 10,
  idleConnections: 100,
}

/** Accepting side: bulk acks once everything arrived; echo and ping-pong echo; others hold. */
export function serve(metric: Metric, sizes: Sizes, stream: ByteStream): void {
  if (metric === 'bulk') {
    let received = 0
    const warmUp = bulkWarmUpBytes(sizes)
    stream.onData((chunk) => {
      received += chunk.byteLength
      if (received === warmUp || received === warmUp + sizes.bulkBytes) {
        stream.write(new Uint8Array([1]))
      }
    })
  } else if (metric === 'echo' || metric === 'pingpong') {
    stream.onData((chunk) => {
      if (!stream.write(chunk)) {
        stream.pause()
        stream.drain().then(() => stream.resume())
      }
    })
  } else {
    stream.onData(() => {})
  }
}

const gc = () => (globalThis as { gc?: () => void }).gc?.()

function bytesReceived(stream: ByteStream, target: number): Promise<void> {
  return new Promise((resolve) => {
    let received = 0
    stream.onData((chunk) => {
      received += chunk.byteLength
      if (received >= target) resolve()
    })
  })
}

/**
 * Bytes sent on the same connection before the timed transfer, acknowledged by the far side:
 * each end runs in a fresh process, so this is where JIT compilation and the socket buffers'
 * growth happen — the same for every implementation (as ping-pong's warm-up round trips).
 */
export function bulkWarmUpBytes(sizes: Sizes): number {
  return sizes.bulkBytes / 4
}

/** Writes `bytes` in 64 KiB writes, waiting for 'drain' whenever the stream asks to. */
async function send(stream: ByteStream, chunk: Uint8Array, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    const n = Math.min(chunk.length, bytes - sent)
    if (!stream.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await stream.drain()
  }
}

/**
 * MB/s (10^6 bytes per second) one way, in steady state: after a warm-up of a quarter of the
 * size, the time until the far side acknowledged the last byte.
 */
async function bulk(dialer: Dialer, sizes: Sizes): Promise<number> {
  const stream = await dialer.dial()
  const warmedUp = bytesReceived(stream, 1)
  const acked = bytesReceived(stream, 2)
  const chunk = new Uint8Array(64 * 1024).fill(0x5a)
  await send(stream, chunk, bulkWarmUpBytes(sizes))
  await warmedUp
  const started = performance.now()
  await send(stream, chunk, sizes.bulkBytes)
  await acked
  const seconds = (performance.now() - started) / 1000
  stream.close()
  return sizes.bulkBytes / 1e6 / seconds
}

/** Messages per second: one write per message, at most `echoWindow` unanswered. */
async function echo(dialer: Dialer, sizes: Sizes): Promise<number> {
  const stream = await dialer.dial()
  const message = new Uint8Array(sizes.messageBytes).fill(7)
  const total = sizes.echoMessages
  let sent = 0
  let receivedBytes = 0
  let blocked = false
  let finish: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    finish = resolve
  })
  const pump = () => {
    while (
      !blocked &&
      sent < total &&
      sent - receivedBytes / sizes.messageBytes < sizes.echoWindow
    ) {
      sent++
      if (!stream.write(message)) {
        blocked = true
        stream.drain().then(() => {
          blocked = false
          pump()
        })
      }
    }
  }
  stream.onData((chunk) => {
    receivedBytes += chunk.byteLength
    if (receivedBytes >= total * sizes.messageBytes) finish()
    else pump()
  })
  const started = performance.now()
  pump()
  await done
  const seconds = (performance.now() - started) / 1000
  stream.close()
  return total / seconds
}

/**
 * µs per round trip of one message, one at a time, in steady state: as many warm-up round trips
 * as measured ones first, the same for every implementation. With a short warm-up (50) the figure
 * was mostly JIT compilation of whichever stack had more code to compile, not the latency of the
 * path; at 2,000 V8 was still optimising per-frame functions of the larger stacks (seen with
 * `--trace-opt` between round trips 1,000 and 4,000), so the full run warms up with 10,000.
 */
async function pingpong(dialer: Dialer, sizes: Sizes): Promise<number> {
  const stream = await dialer.dial()
  const message = new Uint8Array(sizes.messageBytes).fill(9)
  let receivedBytes = 0
  let waiter: (() => void) | undefined
  let target = 0
  stream.onData((chunk) => {
    receivedBytes += chunk.byteLength
    if (receivedBytes >= target) waiter?.()
  })
  const roundTrip = () =>
    new Promise<void>((resolve) => {
      target += sizes.messageBytes
      waiter = resolve
      stream.write(message)
    })
  for (let i = 0; i < sizes.pingpongs; i++) await roundTrip()
  const started = performance.now()
  for (let i = 0; i < sizes.pingpongs; i++) await roundTrip()
  const us = ((performance.now() - started) * 1000) / sizes.pingpongs
  stream.close()
  return us
}

/** Median ms from dial to a pipe ready for bytes, over `dials` sequential dials. */
async function dial(dialer: Dialer, sizes: Sizes): Promise<number> {
  ;(await dialer.dial()).close() // warm-up: first-use costs (JIT, key import caches)
  const times: number[] = []
  for (let i = 0; i < sizes.dials; i++) {
    const started = performance.now()
    const stream = await dialer.dial()
    times.push(performance.now() - started)
    stream.close()
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)] as number
}

/** KiB of JS heap per idle connection held by the dialling side, measured after gc. */
async function heap(dialer: Dialer, sizes: Sizes): Promise<number> {
  const held: ByteStream[] = [await dialer.dial()]
  await settle()
  const before = process.memoryUsage().heapUsed
  const parallel = 8
  for (let i = 0; i < sizes.idleConnections; i += parallel) {
    const n = Math.min(parallel, sizes.idleConnections - i)
    held.push(...(await Promise.all(Array.from({ length: n }, () => dialer.dial()))))
  }
  await settle()
  const after = process.memoryUsage().heapUsed
  for (const s of held) s.close()
  return (after - before) / sizes.idleConnections / 1024
}

/** Lets pending handshake work finish, then collects garbage twice. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300))
  gc()
  await new Promise((resolve) => setTimeout(resolve, 50))
  gc()
}

export const MEASURE: Record<Metric, (dialer: Dialer, sizes: Sizes) => Promise<number>> = {
  bulk,
  echo,
  pingpong,
  dial,
  heap,
}
