import type { Socket } from 'node:dgram'
import type { Endpoint } from '@p2pd/interface'
import {
  AttrType,
  attr,
  type DecodedStunMessage,
  type EncodeOptions,
  findAttribute,
  type StunAttribute,
  StunError,
  StunMethod,
} from '@p2pd/stun'
import { peerDataIndication } from '../peer-data.js'
import { allocationFamily, type RelayHosts, sameFamily } from './address-family.js'
import type { Authenticated } from './credentials.js'
import type { TurnServerOptions, TurnServerStats } from './options.js'
import { peersOf } from './peer-policy.js'
import type { AllocationQuota } from './tcp-options.js'
import { bindRelayUdp } from './udp-bind.js'

/** A UDP allocation: its relay socket, permissions and channels. */
interface Allocation {
  readonly key: string
  readonly client: Endpoint
  readonly username: string
  readonly relay: Socket
  readonly relayed: Endpoint
  /** The relayed family: peers of the other family are refused (443) or dropped. */
  readonly family: 4 | 6
  expiresAt: number
  /** peer IP → expiry */
  readonly permissions: Map<string, number>
  readonly channels: Map<number, { peer: Endpoint; expiresAt: number }>
  readonly channelByPeer: Map<string, number>
  /** The Allocate transaction that created it, to answer its retransmissions. */
  readonly allocateTid: string
  allocateResponse: Buffer
}

const UDP = 17

const endpointKey = (e: Endpoint) => `${e.host}|${e.port}`

/** What the UDP allocations share with the server that answers for them. */
export interface UdpRelayContext {
  readonly opts: TurnServerOptions
  readonly relayHosts: RelayHosts
  readonly stats: TurnServerStats
  readonly peerAllowed: (host: string) => boolean
  readonly quota: AllocationQuota
  readonly lifetime: (req: DecodedStunMessage) => number
  /** Sends from the server's listening socket. */
  readonly send: (bytes: Buffer, to: Endpoint) => void
  /** Answers `req` (signed with `auth` when given); returns the bytes. */
  readonly reply: (
    req: DecodedStunMessage,
    to: Endpoint,
    auth: { encode: EncodeOptions } | undefined,
    attributes: StunAttribute[],
    error?: boolean,
  ) => Buffer
  /** False once the server closed (a relay bound late is then let go). */
  readonly listening: () => boolean
}

/**
 * The UDP allocations of a TurnServer, keyed by client address: Allocate, Refresh,
 * CreatePermission and ChannelBind (authenticated by the server first), and the relaying
 * itself — Send indications and ChannelData to peers, peer datagrams back as ChannelData or
 * Data indications, only with a live permission.
 */
export class UdpRelay {
  readonly #ctx: UdpRelayContext
  readonly #allocations = new Map<string, Allocation>()
  /** Live allocations per client IP: such a source has authenticated, its replies are free. */
  readonly #perIp = new Map<string, number>()

  constructor(ctx: UdpRelayContext) {
    this.#ctx = ctx
  }

  get allocationCount(): number {
    return this.#allocations.size
  }

  /** Whether `ip` holds an allocation (then it has authenticated). */
  holdsAllocation(ip: string): boolean {
    return (this.#perIp.get(ip) ?? 0) > 0
  }

  /** An authenticated allocation request from `from`. */
  onRequest(req: DecodedStunMessage, from: Endpoint, auth: Authenticated): void {
    const existing = this.#allocations.get(endpointKey(from))
    if (req.method === StunMethod.Allocate) return void this.#allocate(req, from, auth, existing)
    if (!existing) {
      return void this.#ctx.reply(
        req,
        from,
        auth,
        [attr.errorCode(437, 'Allocation Mismatch')],
        true,
      )
    }
    if (existing.username !== auth.username) {
      return void this.#ctx.reply(req, from, auth, [attr.errorCode(441, 'Wrong Credentials')], true)
    }
    if (req.method === StunMethod.Refresh) this.#refresh(req, from, auth, existing)
    else if (req.method === StunMethod.CreatePermission) {
      this.#createPermission(req, from, auth, existing)
    } else this.#channelBind(req, from, auth, existing)
  }

  sweep(now: number): void {
    for (const a of [...this.#allocations.values()]) {
      if (!a.relay) continue
      if (a.expiresAt <= now) {
        this.#remove(a)
        continue
      }
      for (const [ip, until] of a.permissions) if (until <= now) a.permissions.delete(ip)
      for (const [n, c] of a.channels) {
        if (c.expiresAt <= now) {
          a.channels.delete(n)
          a.channelByPeer.delete(endpointKey(c.peer))
        }
      }
    }
  }

  close(): void {
    for (const a of [...this.#allocations.values()]) this.#remove(a)
  }

  #allocate(
    req: DecodedStunMessage,
    from: Endpoint,
    auth: Authenticated,
    existing: Allocation | undefined,
  ): void {
    const tid = req.transactionId.toString('hex')
    if (existing) {
      if (existing.allocateTid === tid) {
        // A retransmission: repeat the answer (none yet while the relay is being bound).
        if (existing.allocateResponse) this.#ctx.send(existing.allocateResponse, from)
      } else this.#ctx.reply(req, from, auth, [attr.errorCode(437, 'Allocation Mismatch')], true)
      return
    }
    const rt = findAttribute(req, AttrType.RequestedTransport)
    if (rt?.value.length !== 4) {
      return void this.#ctx.reply(req, from, auth, [attr.errorCode(400, 'Bad Request')], true)
    }
    if (rt.value[0] !== UDP) {
      return void this.#ctx.reply(
        req,
        from,
        auth,
        [attr.errorCode(442, 'Unsupported Transport Protocol')],
        true,
      )
    }
    const wanted = allocationFamily(req, this.#ctx.relayHosts)
    if ('error' in wanted) {
      const reason = wanted.error === 440 ? 'Address Family not Supported' : 'Bad Request'
      return void this.#ctx.reply(req, from, auth, [attr.errorCode(wanted.error, reason)], true)
    }
    const refused = this.#ctx.quota.take(auth.username)
    if (refused !== 0) {
      const reason = refused === 486 ? 'Allocation Quota Reached' : 'Insufficient Capacity'
      return void this.#ctx.reply(req, from, auth, [attr.errorCode(refused, reason)], true)
    }
    const key = endpointKey(from)
    // Reserve the slot before the asynchronous bind, so a retransmission does not double it.
    const placeholder = { allocateTid: tid } as Allocation
    this.#allocations.set(key, placeholder)
    void bindRelayUdp(wanted.host, this.#ctx.opts.relayPortRange).then(
      (relay) => {
        if (this.#allocations.get(key) !== placeholder || !this.#ctx.listening()) {
          relay.close()
          return
        }
        const lifetime = Math.max(
          1,
          this.#ctx.lifetime(req) || (this.#ctx.opts.defaultLifetimeSec ?? 600),
        )
        const relayed = { host: wanted.host, port: relay.address().port }
        const alloc: Allocation = {
          key,
          client: from,
          username: auth.username,
          relay,
          relayed,
          family: wanted.family,
          expiresAt: Date.now() + lifetime * 1000,
          permissions: new Map(),
          channels: new Map(),
          channelByPeer: new Map(),
          allocateTid: tid,
          allocateResponse: Buffer.alloc(0),
        }
        relay.on('message', (msg, rinfo) =>
          this.#onPeerDatagram(alloc, msg, { host: rinfo.address, port: rinfo.port }),
        )
        relay.on('error', () => {})
        this.#allocations.set(key, alloc)
        this.#perIp.set(from.host, (this.#perIp.get(from.host) ?? 0) + 1)
        this.#ctx.stats.allocations++
        alloc.allocateResponse = this.#ctx.reply(req, from, auth, [
          attr.xorAddress(AttrType.XorRelayedAddress, relayed, req.transactionId),
          attr.uint32(AttrType.Lifetime, lifetime),
          attr.xorMappedAddress(from, req.transactionId),
        ])
      },
      () => {
        if (this.#allocations.get(key) === placeholder) this.#allocations.delete(key)
        this.#ctx.quota.release(auth.username)
        this.#ctx.reply(req, from, auth, [attr.errorCode(508, 'Insufficient Capacity')], true)
      },
    )
  }

  #refresh(
    req: DecodedStunMessage,
    from: Endpoint,
    auth: { encode: EncodeOptions },
    alloc: Allocation,
  ): void {
    const lifetime = this.#ctx.lifetime(req)
    if (lifetime === 0) this.#remove(alloc)
    else alloc.expiresAt = Date.now() + lifetime * 1000
    this.#ctx.reply(req, from, auth, [attr.uint32(AttrType.Lifetime, lifetime)])
  }

  #createPermission(
    req: DecodedStunMessage,
    from: Endpoint,
    auth: { encode: EncodeOptions },
    alloc: Allocation,
  ): void {
    const peers = peersOf(req)
    if (peers.length === 0) {
      return void this.#ctx.reply(req, from, auth, [attr.errorCode(400, 'Bad Request')], true)
    }
    if (!peers.every((p) => this.#ctx.peerAllowed(p.host))) {
      this.#ctx.stats.refusedPeers++
      return void this.#ctx.reply(req, from, auth, [attr.errorCode(403, 'Forbidden')], true)
    }
    if (!sameFamily(peers, alloc.family)) {
      const mismatch = attr.errorCode(443, 'Peer Address Family Mismatch')
      return void this.#ctx.reply(req, from, auth, [mismatch], true)
    }
    const expires = Date.now() + (this.#ctx.opts.permissionLifetimeMs ?? 300_000)
    for (const p of peers) alloc.permissions.set(p.host, expires)
    this.#ctx.reply(req, from, auth, [])
  }

  #channelBind(
    req: DecodedStunMessage,
    from: Endpoint,
    auth: { encode: EncodeOptions },
    alloc: Allocation,
  ): void {
    const ch = findAttribute(req, AttrType.ChannelNumber)
    const peer = peersOf(req)[0]
    const number = ch && ch.value.length === 4 ? ch.value.readUInt16BE(0) : 0
    // RFC 8656 narrowed channels to 0x4000–0x4FFF; RFC 5766 clients (turnutils_uclient among
    // them) still pick up to 0x7FFF, so those are accepted too.
    if (!peer || number < 0x4000 || number > 0x7fff) {
      return void this.#ctx.reply(req, from, auth, [attr.errorCode(400, 'Bad Request')], true)
    }
    const bound = alloc.channels.get(number)
    const byPeer = alloc.channelByPeer.get(endpointKey(peer))
    if (
      (bound && endpointKey(bound.peer) !== endpointKey(peer)) ||
      (byPeer !== undefined && byPeer !== number)
    ) {
      return void this.#ctx.reply(req, from, auth, [attr.errorCode(400, 'Bad Request')], true)
    }
    if (!this.#ctx.peerAllowed(peer.host)) {
      this.#ctx.stats.refusedPeers++
      return void this.#ctx.reply(req, from, auth, [attr.errorCode(403, 'Forbidden')], true)
    }
    if (!sameFamily([peer], alloc.family)) {
      const mismatch = attr.errorCode(443, 'Peer Address Family Mismatch')
      return void this.#ctx.reply(req, from, auth, [mismatch], true)
    }
    const now = Date.now()
    alloc.channels.set(number, {
      peer,
      expiresAt: now + (this.#ctx.opts.channelLifetimeMs ?? 600_000),
    })
    alloc.channelByPeer.set(endpointKey(peer), number)
    alloc.permissions.set(peer.host, now + (this.#ctx.opts.permissionLifetimeMs ?? 300_000))
    this.#ctx.reply(req, from, auth, [])
  }

  #permitted(alloc: Allocation, host: string): boolean {
    const until = alloc.permissions.get(host)
    return until !== undefined && until > Date.now()
  }

  onSend(ind: DecodedStunMessage, from: Endpoint): void {
    const alloc = this.#allocations.get(endpointKey(from))
    if (!alloc?.relay) return
    try {
      const peer = peersOf(ind)[0]
      const data = findAttribute(ind, AttrType.Data)
      // A permission is of the relayed family; one of the other family never matches.
      if (!peer || !data || !this.#permitted(alloc, peer.host)) {
        this.#ctx.stats.dropped++
        return
      }
      this.#ctx.stats.relayedToPeers++
      alloc.relay.send(data.value, peer.port, peer.host, () => {})
    } catch (err) {
      if (!(err instanceof StunError)) throw err
    }
  }

  onChannelData(msg: Buffer, from: Endpoint): void {
    const alloc = this.#allocations.get(endpointKey(from))
    const channel = alloc?.channels.get(msg.readUInt16BE(0))
    const length = msg.readUInt16BE(2)
    if (!alloc?.relay || !channel || length > msg.length - 4 || channel.expiresAt < Date.now()) {
      this.#ctx.stats.dropped++
      return
    }
    if (!this.#permitted(alloc, channel.peer.host)) {
      this.#ctx.stats.dropped++
      return
    }
    this.#ctx.stats.relayedToPeers++
    alloc.relay.send(msg.subarray(4, 4 + length), channel.peer.port, channel.peer.host, () => {})
  }

  #onPeerDatagram(alloc: Allocation, data: Buffer, peer: Endpoint): void {
    if (!this.#permitted(alloc, peer.host)) {
      this.#ctx.stats.dropped++
      return
    }
    this.#ctx.stats.relayedToClients++
    const number = alloc.channelByPeer.get(endpointKey(peer))
    const channel = number === undefined ? undefined : alloc.channels.get(number)
    if (number !== undefined && channel && channel.expiresAt > Date.now()) {
      const frame = Buffer.allocUnsafe(4 + data.length)
      frame.writeUInt16BE(number, 0)
      frame.writeUInt16BE(data.length, 2)
      data.copy(frame, 4)
      this.#ctx.send(frame, alloc.client)
      return
    }
    this.#ctx.send(peerDataIndication(StunMethod.Data, peer, data), alloc.client)
  }

  #remove(a: Allocation): void {
    if (this.#allocations.get(a.key) === a) this.#allocations.delete(a.key)
    if (a.relay) {
      a.relay.close()
      this.#ctx.quota.release(a.username)
      const n = (this.#perIp.get(a.client.host) ?? 1) - 1
      if (n <= 0) this.#perIp.delete(a.client.host)
      else this.#perIp.set(a.client.host, n)
    }
  }
}
