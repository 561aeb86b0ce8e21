import { createSocket, type Socket } from 'node:dgram'

/** A UDP socket on 127.0.0.1 for fake servers. */
export async function udpSocket(host = '127.0.0.1'): Promise<Socket> {
  const s = createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, host, resolve))
  return s
}

export function portOf(s: Socket): number {
  return s.address().port
}

export function closeSocket(s: Socket): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()))
}

/** Resolves with the code of the StunError/P2pdError a promise rejects with. */
export async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as { code?: string }).code ?? String(err)
  }
  return 'resolved'
}
