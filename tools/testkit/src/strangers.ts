import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

/**
 * Hostile TCP clients for a node's listener: they connect (from a chosen loopback source
 * address, so per-source limits can be exercised), send some bytes or none, and stall. Each
 * records when it connected and when the listener closed it, to check deadlines from outside.
 */

/** The 22-byte preamble of a `direct` dial: "P2PD" ‖ version 1 ‖ kind 0 ‖ 16 zero bytes. */
export const DIRECT_PREAMBLE: Buffer = Buffer.concat([
  Buffer.from('P2PD'),
  Buffer.from([1, 0]),
  Buffer.alloc(16),
])

/** The first 10 bytes of a 22-byte hello: the listener's handshake waits for the rest. */
export const HELLO_PREFIX: Buffer = Buffer.from([1, 1, ...randomBytes(8)])

export interface StrangerPlan {
  /** Source address to bind (any 127.0.0.0/8 address works on Linux loopback). */
  readonly from?: string
  /** Bytes written right after the connect. */
  readonly send?: Uint8Array
  /** Then bytes written one at a time, `dripEveryMs` apart (slowloris). */
  readonly drip?: Uint8Array
  readonly dripEveryMs?: number
  /** Runs after the connect and `send` (e.g. a handshake); `readyAt` is when it resolved. */
  readonly afterConnect?: (socket: Socket) => Promise<unknown>
}

export interface Stranger {
  readonly socket: Socket
  /** `performance.now()` when the connect was started. */
  readonly openedAt: number
  /** The listener sees this stranger as `address:port` (empty until connected). */
  readonly key: string
  /** `performance.now()` at the connect (NaN until then, or if it never connected). */
  readonly connectedAt: number
  /** `performance.now()` when `afterConnect` resolved (NaN otherwise). */
  readonly readyAt: number
  /** `performance.now()` when the listener's first byte arrived (NaN if none did, or when
   * `afterConnect` reads the socket). */
  readonly firstByteAt: number
  /** Connected, and `afterConnect` (if any) resolved. */
  readonly ready: boolean
  /** Resolves when the socket closes: when, and whether it connected at all. */
  readonly closed: Promise<{ at: number; connected: boolean; error?: string }>
}

/** Opens one stranger to `host:port`. Never rejects; failures show in `closed`. */
export function openStranger(host: string, port: number, plan: StrangerPlan = {}): Stranger {
  const socket = connect({ host, port, localAddress: plan.from })
  let drip: NodeJS.Timeout | undefined
  let error: string | undefined
  const openedAt = performance.now()
  const state = { connectedAt: Number.NaN, readyAt: Number.NaN, firstByteAt: Number.NaN, key: '' }
  socket.setNoDelay(true)
  socket.on('error', (e) => {
    error = (e as NodeJS.ErrnoException).code ?? e.message
  })
  // Drain whatever the listener says (its hello), unless `afterConnect` reads it.
  if (!plan.afterConnect) {
    socket.on('data', () => {
      if (Number.isNaN(state.firstByteAt)) state.firstByteAt = performance.now()
    })
  }
  socket.once('connect', () => {
    state.connectedAt = performance.now()
    state.key = `${socket.localAddress}:${socket.localPort}`
    if (plan.send?.length) socket.write(plan.send)
    const bytes = plan.drip
    if (bytes?.length) {
      let i = 0
      drip = setInterval(() => {
        if (i >= bytes.length || socket.destroyed) return clearInterval(drip)
        socket.write(bytes.subarray(i, ++i))
      }, plan.dripEveryMs ?? 200)
    }
    plan.afterConnect?.(socket).then(
      () => {
        state.readyAt = performance.now()
      },
      (e: unknown) => {
        error = (e as Error).message
      },
    )
  })
  const closed = new Promise<{ at: number; connected: boolean; error?: string }>((resolve) =>
    socket.once('close', () => {
      clearInterval(drip)
      resolve({ at: performance.now(), connected: !Number.isNaN(state.connectedAt), error })
    }),
  )
  return {
    socket,
    openedAt,
    get key() {
      return state.key
    },
    get connectedAt() {
      return state.connectedAt
    },
    get readyAt() {
      return state.readyAt
    },
    get firstByteAt() {
      return state.firstByteAt
    },
    get ready() {
      return plan.afterConnect ? !Number.isNaN(state.readyAt) : !Number.isNaN(state.connectedAt)
    },
    closed,
  }
}

/** Resolves once `stranger` has connected (or closed without connecting). */
export function connected(stranger: Stranger): Promise<void> {
  if (!Number.isNaN(stranger.connectedAt) || stranger.socket.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    stranger.socket.once('connect', () => resolve())
    stranger.socket.once('close', () => resolve())
  })
}

/**
 * How long the listener kept a stranger open: from its connect (from the start of the connect
 * if a reset beat the connect event), or from `readyAt`, to the close.
 */
export async function heldMs(stranger: Stranger, from: 'connect' | 'ready' = 'connect') {
  const { at } = await stranger.closed
  if (from === 'ready') return at - stranger.readyAt
  return at - (Number.isNaN(stranger.connectedAt) ? stranger.openedAt : stranger.connectedAt)
}

/** The `n`th loopback source address past 127.0.0.1 (127.0.0.2, …, 127.0.1.0, …). */
export function loopbackSource(n: number): string {
  const v = n + 2
  return `127.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`
}
