import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { localNow } from '../../src/local-clock.js'
import { decodePacket, encodePacket, type NtpPacket } from '../../src/packet.js'
import { msToNtp } from '../../src/timestamp.js'

/** One datagram the fake sends back; `fromOtherPort` sends it from a second socket. */
export interface FakeReply {
  bytes: Uint8Array
  fromOtherPort?: boolean
}

/** A well-formed, honest reply to `request` (server clock = local clock). */
export function honestReply(request: NtpPacket, patch: Partial<NtpPacket> = {}): Uint8Array {
  const now = msToNtp(localNow())
  return encodePacket({
    version: 4,
    mode: 4,
    stratum: 2,
    refId: new Uint8Array([76, 79, 67, 76]),
    originTimestamp: request.transmitTimestamp,
    receiveTimestamp: now,
    transmitTimestamp: now,
    ...patch,
  })
}

/**
 * A UDP responder for client tests that need bad replies: `craft` decides what (if anything)
 * goes back for each request.
 */
export async function startFakeResponder(
  craft: (request: NtpPacket, raw: Buffer) => FakeReply[],
): Promise<{ port: number; close(): Promise<void> }> {
  const bind = async (): Promise<Socket> => {
    const s = createSocket('udp4')
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()))
    return s
  }
  const main = await bind()
  const other = await bind()
  main.on('message', (raw: Buffer, rinfo: RemoteInfo) => {
    let request: NtpPacket
    try {
      request = decodePacket(raw)
    } catch {
      return
    }
    for (const r of craft(request, raw)) {
      ;(r.fromOtherPort ? other : main).send(r.bytes, rinfo.port, rinfo.address)
    }
  })
  return {
    port: main.address().port,
    close: async () => {
      await new Promise<void>((r) => main.close(() => r()))
      await new Promise<void>((r) => other.close(() => r()))
    },
  }
}
