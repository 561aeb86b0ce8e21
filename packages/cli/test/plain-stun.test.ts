import type { BindOptions, Socket as UdpSocket } from 'node:dgram'
import { createServer, type Server } from 'node:net'
import { StunUdpClient } from '@p2pd/stun'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PlainStunServer } from '../src/plain-stun.js'

// The first UDP bind to port 0 is steered onto `steer.port`, a port whose TCP twin the test
// holds: what happens when the kernel's ephemeral UDP pick is already an outgoing TCP port.
const steer = vi.hoisted(() => ({ port: 0, steered: 0 }))
vi.mock('node:dgram', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:dgram')>()
  const createSocket = ((...args: Parameters<typeof real.createSocket>) => {
    const socket = real.createSocket(...args)
    const bind = socket.bind.bind(socket) as (...a: unknown[]) => UdpSocket
    socket.bind = ((...a: unknown[]) => {
      const o = a[0] as BindOptions
      if (steer.port !== 0 && typeof o === 'object' && o.port === 0) {
        steer.steered++
        const port = steer.port
        steer.port = 0
        return bind({ ...o, port }, ...a.slice(1))
      }
      return bind(...a)
    }) as UdpSocket['bind']
    return socket
  }) as typeof real.createSocket
  return { ...real, createSocket, default: { ...real, createSocket } }
})

describe('PlainStunServer on port 0', () => {
  let busy: Server | undefined
  afterEach(async () => {
    await new Promise((resolve) => busy?.close(resolve) ?? resolve(undefined))
  })

  it('takes another port pair when the TCP twin of its UDP port is taken', {
    timeout: 15_000,
  }, async () => {
    busy = createServer()
    await new Promise<void>((resolve) => busy?.listen(0, '127.0.0.1', resolve))
    const taken = (busy.address() as { port: number }).port
    steer.port = taken
    const server = new PlainStunServer({ host: '127.0.0.1', port: 0 })
    await server.start()
    try {
      expect(steer.steered).toBe(1)
      expect(server.primary.port).not.toBe(taken)
      expect(server.primary.port).toBeGreaterThan(0)
      const udp = await StunUdpClient.open({ localAddress: '127.0.0.1' })
      try {
        const r = await udp.binding(server.primary, { timeoutMs: 5_000 })
        expect(r.mapped.host).toBe('127.0.0.1')
      } finally {
        await udp.close()
      }
    } finally {
      await server.close()
    }
  })

  it('a fixed port that is taken still fails with EADDRINUSE (no silent move)', async () => {
    busy = createServer()
    await new Promise<void>((resolve) => busy?.listen(0, '127.0.0.1', resolve))
    const taken = (busy.address() as { port: number }).port
    const server = new PlainStunServer({ host: '127.0.0.1', port: taken })
    await expect(server.start()).rejects.toMatchObject({ code: 'EADDRINUSE' })
  })
})
