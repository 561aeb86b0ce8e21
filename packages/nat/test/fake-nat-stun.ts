import { randomInt } from 'node:crypto'
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Socket, type Server as TcpServer } from 'node:net'
import type { Endpoint } from '@p2pd/interface'
import {
  AttrType,
  createMessage,
  decodeMessage,
  encodeMessage,
  type Reply,
  readAttributes,
  respond,
  type Slot,
  StunFramer,
  TCP_CALLBACK,
} from '@p2pd/stun'

/** How the simulated NAT picks public ports for new mappings. */
export type FakePorts =
  | { kind: 'preserving' }
  | { kind: 'sequential'; step: number; base: number }
  | { kind: 'random'; from: number; to: number }
  | { kind: 'offset'; offset: number }
  | { kind: 'dependent'; step: number }

/** A NAT (or firewall, with mapping `none`) simulated *inside* a STUN server on loopback. */
export interface FakeNatProfile {
  readonly mapping: 'none' | 'EIM' | 'ADM' | 'APDM'
  readonly filtering: 'EIF' | 'ADF' | 'APDF'
  readonly ports?: FakePorts
  /** The public IP mapped addresses report (default 203.0.113.7; 127.0.0.x for hairpin). */
  readonly publicIp?: string
  /** Answer nothing (UDP) and reset every TCP connection. */
  readonly blocked?: boolean
  /** Which alternate-address attribute the server gives (default rfc5780). */
  readonly alternate?: 'rfc5780' | 'rfc3489' | 'none'
  /** Answer CHANGE-REQUESTs from the address they arrived at. */
  readonly ignoreChange?: boolean
  /** Answer CHANGE-REQUESTs with 400. */
  readonly errorOnChange?: boolean
  /** Forward datagrams sent to a public mapping to its internal endpoint (publicIp in 127/8). */
  readonly hairpin?: boolean
}

interface Entry {
  readonly internal: Endpoint
  readonly publicPort: number
  readonly contacted: Set<string>
  hairpin?: UdpSocket
}

const SLOTS: readonly Slot[] = [
  { ip: 0, port: 0 },
  { ip: 0, port: 1 },
  { ip: 1, port: 0 },
  { ip: 1, port: 1 },
]
const key = (e: Endpoint) => `${e.host}:${e.port}`

/**
 * A scriptable RFC 5780 server on 127.0.0.1 + 127.0.0.2 (two ports each, UDP and TCP) that
 * answers as if the client sat behind the NAT described by the profile: XOR-MAPPED-ADDRESS
 * comes from a simulated NAT table (mapping behaviour, port allocation), and a reply to a
 * CHANGE-REQUEST is only sent when the simulated filter would let it in.
 */
export class FakeNatStunServer {
  readonly hosts = ['127.0.0.1', '127.0.0.2'] as const
  ports: [number, number] = [0, 0]
  /** `callback`: a TCP-CALLBACK request (which this fake ignores, as coturn does). */
  readonly requests: { transport: 'udp' | 'tcp'; slot: Slot; from: Endpoint; callback?: true }[] =
    []
  readonly #udp: UdpSocket[] = []
  readonly #tcp: TcpServer[] = []
  readonly #conns = new Set<Socket>()
  readonly #table = new Map<string, Entry>()
  #counter = 0
  #last?: { local: number; mapped: number }

  constructor(readonly profile: FakeNatProfile) {}

  get primary(): Endpoint {
    return this.addressOf({ ip: 0, port: 0 })
  }

  get spec(): string {
    return `${this.hosts[0]}:${this.ports[0]}`
  }

  addressOf(s: Slot): Endpoint {
    return { host: this.hosts[s.ip], port: this.ports[s.port] }
  }

  /** The mappings the NAT holds now (public ports), for assertions. */
  mappings(): number[] {
    return [...this.#table.values()].map((e) => e.publicPort)
  }

  async start(): Promise<this> {
    for (let attempt = 0; attempt < 30; attempt++) {
      const p0 = randomInt(20000, 60000)
      this.ports = [p0, p0 + 1]
      try {
        for (const s of SLOTS) await this.#bindSlot(s)
        return this
      } catch {
        await this.#release()
      }
    }
    throw new Error('fake STUN server: no free ports')
  }

  async close(): Promise<void> {
    await this.#release()
    for (const e of this.#table.values()) e.hairpin?.close()
    this.#table.clear()
  }

  async #release(): Promise<void> {
    for (const c of this.#conns) c.destroy()
    this.#conns.clear()
    await Promise.all(this.#udp.map((u) => new Promise<void>((r) => u.close(() => r()))))
    await Promise.all(this.#tcp.map((t) => new Promise<void>((r) => t.close(() => r()))))
    this.#udp.length = 0
    this.#tcp.length = 0
  }

  async #bindSlot(slot: Slot): Promise<void> {
    const at = this.addressOf(slot)
    const u = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject)
      u.bind({ address: at.host, port: at.port, exclusive: true }, () => {
        u.off('error', reject)
        resolve()
      })
    })
    u.on('error', () => {})
    this.#udp[SLOTS.indexOf(slot)] = u
    u.on('message', (data, rinfo) =>
      this.#onUdp(slot, data, { host: rinfo.address, port: rinfo.port }),
    )
    const t = createServer((sock) => this.#onTcp(slot, sock))
    await new Promise<void>((resolve, reject) => {
      t.once('error', reject)
      t.listen({ host: at.host, port: at.port, exclusive: true }, () => {
        t.off('error', reject)
        resolve()
      })
    })
    this.#tcp.push(t)
  }

  /** The NAT entry the flow client → server slot uses (created on first use). */
  #entry(transport: 'udp' | 'tcp', client: Endpoint, dest: Endpoint): Entry {
    const m = this.profile.mapping
    const k =
      m === 'none' || m === 'EIM'
        ? `${transport}|${key(client)}`
        : m === 'ADM'
          ? `${transport}|${key(client)}|${dest.host}`
          : `${transport}|${key(client)}|${key(dest)}`
    let e = this.#table.get(k)
    if (!e) {
      e = { internal: client, publicPort: this.#allocate(client.port), contacted: new Set() }
      this.#table.set(k, e)
      if (this.profile.hairpin && transport === 'udp') this.#hairpin(e)
    }
    e.contacted.add(dest.host)
    e.contacted.add(key(dest))
    return e
  }

  #allocate(local: number): number {
    if (this.profile.mapping === 'none') return local
    const p = this.profile.ports ?? { kind: 'preserving' }
    const wrap = (n: number) => 1024 + ((((n - 1024) % 64512) + 64512) % 64512)
    let port: number
    switch (p.kind) {
      case 'preserving':
        port = local
        break
      case 'offset':
        port = wrap(local + p.offset)
        break
      case 'sequential':
        port = wrap(p.base + p.step * this.#counter++)
        break
      case 'random':
        port = randomInt(p.from, p.to + 1)
        break
      case 'dependent':
        port =
          this.#last && local === this.#last.local + 1
            ? wrap(this.#last.mapped + p.step)
            : randomInt(1024, 65536)
        break
    }
    this.#last = { local, mapped: port }
    return port
  }

  #hairpin(e: Entry): void {
    const s = createSocket('udp4')
    s.on('error', () => {})
    s.bind(e.publicPort, this.profile.publicIp ?? '203.0.113.7', () => {
      e.hairpin = s
      s.on('message', (data) => s.send(data, e.internal.port, e.internal.host))
    })
  }

  #mapped(e: Entry, client: Endpoint): Endpoint {
    if (this.profile.mapping === 'none') return client
    return { host: this.profile.publicIp ?? '203.0.113.7', port: e.publicPort }
  }

  #allows(e: Entry, via: Endpoint): boolean {
    if (this.profile.filtering === 'EIF') return true
    if (this.profile.filtering === 'ADF') return e.contacted.has(via.host)
    return e.contacted.has(key(via))
  }

  #answer(transport: 'udp' | 'tcp', slot: Slot, data: Buffer, mapped: Endpoint): Reply | undefined {
    let change = false
    try {
      const req = decodeMessage(data, { allowLegacy: true })
      const c = readAttributes(req).changeRequest
      change = !!c && (c.changeIp || c.changePort)
    } catch {
      return undefined
    }
    const reply = respond(data, {
      transport: change && this.profile.errorOnChange ? 'tcp' : transport,
      slot,
      remote: mapped,
      addressOf: (s) => this.addressOf(s),
      allowResponsePort: false,
    })
    if (!reply) return undefined
    const via = change && this.profile.ignoreChange ? slot : reply.via
    return { ...reply, via, bytes: this.#strip(reply.bytes) }
  }

  /** Removes the alternate-address attributes the profile does not advertise. */
  #strip(bytes: Buffer): Buffer {
    const alt = this.profile.alternate ?? 'rfc5780'
    if (alt === 'rfc5780') return bytes
    const msg = decodeMessage(bytes, { allowLegacy: true })
    const drop = new Set<number>([AttrType.OtherAddress, AttrType.Fingerprint])
    if (alt === 'none') drop.add(AttrType.ChangedAddress)
    return encodeMessage(
      createMessage({
        method: msg.method,
        cls: msg.cls,
        transactionId: msg.transactionId,
        attributes: msg.attributes.filter((a) => !drop.has(a.type)),
        ...(msg.cookie === undefined ? {} : { cookie: msg.cookie }),
      }),
      { fingerprint: !msg.legacy },
    )
  }

  #onUdp(slot: Slot, data: Buffer, from: Endpoint): void {
    if (this.profile.blocked) return
    this.requests.push({ transport: 'udp', slot, from })
    const entry = this.#entry('udp', from, this.addressOf(slot))
    const reply = this.#answer('udp', slot, data, this.#mapped(entry, from))
    if (!reply) return
    const via = this.addressOf(reply.via)
    if (!this.#allows(entry, via)) return // the simulated filter drops it
    this.#udp[SLOTS.findIndex((s) => s.ip === reply.via.ip && s.port === reply.via.port)]?.send(
      reply.bytes,
      from.port,
      from.host,
    )
  }

  #onTcp(slot: Slot, sock: Socket): void {
    if (this.profile.blocked) {
      sock.resetAndDestroy()
      return
    }
    this.#conns.add(sock)
    sock.on('error', () => {})
    sock.on('close', () => this.#conns.delete(sock))
    const from = { host: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 }
    const entry = this.#entry('tcp', from, this.addressOf(slot))
    const framer = new StunFramer()
    sock.on('data', (chunk: Buffer) => {
      let frames: ReturnType<StunFramer['push']>
      try {
        frames = framer.push(chunk)
      } catch {
        sock.destroy()
        return
      }
      for (const f of frames) {
        this.requests.push({
          transport: 'tcp',
          slot,
          from,
          ...(isTcpCallback(f.data) ? { callback: true as const } : {}),
        })
        const reply = this.#answer('tcp', slot, f.data, this.#mapped(entry, from))
        if (reply) sock.write(reply.bytes)
      }
    })
  }
}

/** Starts a fake server for a profile. */
export function fakeNat(profile: FakeNatProfile): Promise<FakeNatStunServer> {
  return new FakeNatStunServer(profile).start()
}

function isTcpCallback(data: Buffer): boolean {
  try {
    return decodeMessage(data).attributes.some((a) => a.type === TCP_CALLBACK)
  } catch {
    return false
  }
}
