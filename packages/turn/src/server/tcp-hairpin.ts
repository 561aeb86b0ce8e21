import type { Socket } from 'node:net'
import type { Pump } from './tcp-pump.js'

/** A peer connection of a TCP allocation spliced to the client's data connection. */
export interface SplicedPair {
  readonly peer: Socket
  readonly data: Socket
  /** Copies the data connection's bytes (else `pipe` does); its end already ends `peer`. */
  readonly pump?: Pump
}

/**
 * The spliced pairs of one server by the address 4-tuple of their peer connection.
 *
 * When a client Connects to a relayed address of this same server (both peers allocated on
 * one server, the usual case when they share a relay), the server dials itself: the two
 * pairs' peer connections are the two ends of one loopback TCP connection. Relaying through
 * it costs a write and a read per byte more than needed (two extra kernel copies and a TCP
 * connection's processing); {@link fuse} takes it out of the data path.
 */
export class Hairpins {
  readonly #pairs = new Map<string, SplicedPair>()
  readonly #keys = new WeakMap<SplicedPair, string>()

  /** Registers a spliced pair (its key is taken now: a closed socket forgets its addresses). */
  add(pair: SplicedPair): void {
    const key = tupleKey(pair.peer, false)
    if (key === undefined) return
    this.#pairs.set(key, pair)
    this.#keys.set(pair, key)
  }

  delete(pair: SplicedPair): void {
    const key = this.#keys.get(pair)
    if (key !== undefined && this.#pairs.get(key) === pair) this.#pairs.delete(key)
  }

  /**
   * The live spliced pair holding the other end of `peer`'s connection, when this server
   * holds it: both ends of one TCP connection in one process mirror each other's 4-tuple.
   */
  partner(peer: Socket): SplicedPair | undefined {
    const key = tupleKey(peer, true)
    const pair = key === undefined ? undefined : this.#pairs.get(key)
    if (!pair || pair.peer === peer) return undefined
    if (pair.peer.destroyed || pair.data.destroyed) return undefined
    return pair
  }

  get size(): number {
    return this.#pairs.size
  }
}

/**
 * Splices `second` (just bound) with `first` (spliced before, the other end of its peer
 * connection) data connection to data connection. The peer connection between them stays
 * open and carries only what it already holds, then each side's FIN: every end and close
 * path is the one of an unfused pair (a FIN still travels data → peer → peer → data).
 *
 * - second → first: straight away (nothing of it is in the inner connection yet).
 * - first → second: its data connection stops writing into the inner connection; what the
 *   inner connection already took is delivered by second's peer side as before, and once it
 *   all arrived (counted), first's data connection goes straight to second's.
 */
export function fuse(first: SplicedPair, second: SplicedPair, leftover: Buffer): void {
  // What first sent before now, then its FIN, still come out of second's peer connection.
  second.peer.pipe(second.data)
  if (leftover.length > 0) first.data.write(leftover)
  bypass(second, first)
  // First's FIN is already on its way through the inner connection: nothing to take over.
  if (first.data.readableEnded) return
  if (first.pump) first.pump.to(undefined)
  else first.data.unpipe(first.peer)
  const owed = first.peer.bytesWritten
  if (owed === 0) return void bypass(first, second)
  let delivered = 0
  const count = (chunk: Buffer) => {
    delivered += chunk.length
    if (delivered < owed) return
    second.peer.off('data', count)
    bypass(first, second)
  }
  second.peer.on('data', count)
}

/** `from`'s data connection straight to `to`'s; its end goes the usual way (a FIN inside). */
function bypass(from: SplicedPair, to: SplicedPair): void {
  if (from.pump) return void from.pump.to(to.data)
  from.data.pipe(to.data, { end: false })
  from.data.once('end', () => from.peer.end())
}

/** `local|port|remote|port` of a socket, or the mirrored one (`swap`); undefined once closed. */
function tupleKey(s: Socket, swap: boolean): string | undefined {
  const { localAddress, localPort, remoteAddress, remotePort } = s
  if (!localAddress || !localPort || !remoteAddress || !remotePort) return undefined
  const local = `${normalize(localAddress)}|${localPort}`
  const remote = `${normalize(remoteAddress)}|${remotePort}`
  return swap ? `${remote}|${local}` : `${local}|${remote}`
}

function normalize(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip
}
