import { createSocket, type Socket } from 'node:dgram'
import type { AddressInfo } from 'node:net'

/** What the fake gateway holds for one mapping. */
export interface FakeMapping {
  protocol: 'tcp' | 'udp'
  internalAddress: string
  internalPort: number
  externalPort: number
  lifetime: number
  nonce?: string
}

export interface FakeGatewayOptions {
  /** Versions it speaks: 0 NAT-PMP, 2 PCP (default both). */
  versions?: number[]
  externalAddress?: string
  /** External ports already taken: a request for one gets the next free port. */
  taken?: number[]
  /** Grants at most this lifetime. */
  maxLifetime?: number
}

/**
 * A PCP + NAT-PMP responder on 127.0.0.1 for tests (loopback only): a mapping table, and knobs
 * for silence, dropped requests, refusals and stray datagrams.
 */
export class FakeGateway {
  readonly mappings = new Map<string, FakeMapping>()
  /** Every request received (raw). */
  readonly requests: Buffer[] = []
  /** Answer nothing at all. */
  silent = false
  /** Drop this many requests before answering. */
  dropNext = 0
  /** Answer with this result code instead of success. */
  refuseWith = 0
  /** Send these datagrams before each genuine answer. */
  strays: Buffer[] = []
  externalAddress: string
  epoch = 1000
  private constructor(
    private readonly socket: Socket,
    private readonly options: FakeGatewayOptions,
  ) {
    this.externalAddress = options.externalAddress ?? '203.0.113.9'
  }

  static async start(options: FakeGatewayOptions = {}): Promise<FakeGateway> {
    const socket = createSocket('udp4')
    const gw = new FakeGateway(socket, options)
    socket.on('message', (m, from) => gw.onMessage(m, from.address, from.port))
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r))
    return gw
  }

  get port(): number {
    return (this.socket.address() as AddressInfo).port
  }

  close(): void {
    this.socket.close()
  }

  private reply(data: Buffer, address: string, port: number): void {
    for (const s of this.strays) this.socket.send(s, port, address)
    this.socket.send(data, port, address)
  }

  private onMessage(m: Buffer, address: string, port: number): void {
    this.requests.push(Buffer.from(m))
    if (this.silent) return
    if (this.dropNext > 0) {
      this.dropNext--
      return
    }
    const versions = this.options.versions ?? [0, 2]
    const version = m[0] ?? 255
    if (!versions.includes(version)) {
      // RFC 6887 §9: answer in our own (highest) version with UNSUPP_VERSION.
      const mine = Math.max(...versions)
      if (mine === 0) {
        const out = Buffer.alloc(8)
        out[1] = 128 + ((m[1] ?? 0) & 0x7f)
        out.writeUInt16BE(1, 2)
        out.writeUInt32BE(this.epoch, 4)
        this.reply(out, address, port)
      } else {
        const out = Buffer.alloc(24)
        out[0] = mine
        out[1] = 0x80 | ((m[1] ?? 0) & 0x7f)
        out[3] = 1
        this.reply(out, address, port)
      }
      return
    }
    if (version === 0) this.natPmp(m, address, port)
    else this.pcp(m, address, port)
  }

  private grant(
    protocol: 'tcp' | 'udp',
    internalAddress: string,
    internalPort: number,
    suggested: number,
    lifetime: number,
    nonce?: string,
  ): FakeMapping | undefined {
    const key = `${protocol}/${internalAddress}/${internalPort}`
    if (lifetime === 0) {
      this.mappings.delete(key)
      return undefined
    }
    const existing = this.mappings.get(key)
    let externalPort = existing?.externalPort ?? (suggested || internalPort)
    const taken = new Set(this.options.taken ?? [])
    for (const m of this.mappings.values()) if (m !== existing) taken.add(m.externalPort)
    while (!existing && taken.has(externalPort)) externalPort++
    const granted: FakeMapping = {
      protocol,
      internalAddress,
      internalPort,
      externalPort,
      lifetime: Math.min(lifetime, this.options.maxLifetime ?? lifetime),
      ...(nonce ? { nonce } : {}),
    }
    this.mappings.set(key, granted)
    return granted
  }

  private natPmp(m: Buffer, address: string, port: number): void {
    const op = m[1] ?? 0
    const head = (size: number) => {
      const out = Buffer.alloc(size)
      out[1] = 128 + op
      out.writeUInt16BE(this.refuseWith, 2)
      out.writeUInt32BE(this.epoch, 4)
      return out
    }
    if (op === 0) {
      const out = head(12)
      Buffer.from(this.externalAddress.split('.').map(Number)).copy(out, 8)
      this.reply(out, address, port)
      return
    }
    const out = head(16)
    const internalPort = m.readUInt16BE(4)
    out.writeUInt16BE(internalPort, 8)
    if (this.refuseWith === 0) {
      const g = this.grant(
        op === 1 ? 'udp' : 'tcp',
        address,
        internalPort,
        m.readUInt16BE(6),
        m.readUInt32BE(8),
      )
      out.writeUInt16BE(g?.externalPort ?? 0, 10)
      out.writeUInt32BE(g?.lifetime ?? 0, 12)
    }
    this.reply(out, address, port)
  }

  private pcp(m: Buffer, address: string, port: number): void {
    const out = Buffer.alloc(60)
    m.copy(out, 24, 24, 60) // MAP data echoes the request
    out[0] = 2
    out[1] = 0x81
    out[3] = this.refuseWith
    out.writeUInt32BE(this.epoch, 8)
    if (this.refuseWith === 0) {
      const protocol = m[36] === 6 ? 'tcp' : 'udp'
      const g = this.grant(
        protocol,
        address,
        m.readUInt16BE(40),
        m.readUInt16BE(42),
        m.readUInt32BE(4),
        m.subarray(24, 36).toString('hex'),
      )
      out.writeUInt32BE(g?.lifetime ?? 0, 4)
      out.writeUInt16BE(g?.externalPort ?? 0, 42)
      out.fill(0, 44, 54)
      out[54] = 0xff
      out[55] = 0xff
      Buffer.from(this.externalAddress.split('.').map(Number)).copy(out, 56)
    }
    this.reply(out, address, port)
  }
}
