import type { Socket } from 'node:net'

/**
 * Both peers must keep the *same* socket when several connect (several pairs, a listener and a
 * dial…). The offerer decides: it keeps the first socket that connects and writes one byte,
 * {@link KEEP}, on it before anything else; the answerer keeps the socket that carries that
 * byte and closes the others. Deterministic on both sides, whatever the arrival order.
 */
export const KEEP = 0x4b

export function sendKeep(socket: Socket): void {
  socket.write(Buffer.from([KEEP]))
}

/**
 * Answerer side: collects connected sockets and resolves with the first one that delivers
 * {@link KEEP}. Sockets that send anything else, or close, are dropped.
 */
export class KeepWatcher {
  readonly #sockets = new Set<Socket>()
  readonly #cleanups = new Map<Socket, () => void>()
  #resolve: (s: Socket) => void = () => {}
  #winner: Socket | undefined
  readonly kept: Promise<Socket>

  constructor() {
    this.kept = new Promise((resolve) => {
      this.#resolve = resolve
    })
  }

  add(socket: Socket): void {
    if (this.#winner) return void socket.destroy()
    this.#sockets.add(socket)
    const onReadable = () => {
      const b = socket.read(1) as Buffer | null
      if (b === null) return
      cleanup()
      if (b[0] !== KEEP || this.#winner) return this.#drop(socket)
      this.#winner = socket
      this.#sockets.delete(socket)
      this.#resolve(socket)
    }
    const onClose = () => {
      cleanup()
      this.#drop(socket)
    }
    const cleanup = () => {
      socket.off('readable', onReadable)
      socket.off('close', onClose)
      this.#cleanups.delete(socket)
    }
    this.#cleanups.set(socket, cleanup)
    socket.on('readable', onReadable)
    socket.once('close', onClose)
    onReadable()
  }

  #drop(socket: Socket): void {
    this.#sockets.delete(socket)
    socket.destroy()
  }

  /** Destroys every socket but the winner. Idempotent. */
  close(): void {
    for (const s of this.#sockets) {
      this.#cleanups.get(s)?.()
      s.destroy()
    }
    this.#sockets.clear()
  }
}
