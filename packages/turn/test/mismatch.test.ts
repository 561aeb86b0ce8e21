import { createSocket } from 'node:dgram'
import {
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  StunClass,
  StunMethod,
} from '@p2pd/stun'
import { describe, expect, it } from 'vitest'
import { TurnClient, TurnError } from '../src/index.js'

describe('Allocate answered 437 (our 5-tuple still holds an old allocation)', () => {
  it('retries from fresh local ports, then fails with TURN_ALLOCATION_MISMATCH', async () => {
    // A stand-in server that answers every Allocate with 437, remembering who asked.
    const server = createSocket('udp4')
    const askedFrom: number[] = []
    server.on('message', (msg, rinfo) => {
      const req = decodeMessage(msg)
      if (req.method !== StunMethod.Allocate) return
      askedFrom.push(rinfo.port)
      const res = createMessage({
        method: StunMethod.Allocate,
        cls: StunClass.ErrorResponse,
        transactionId: req.transactionId,
        attributes: [attr.errorCode(437, 'Allocation Mismatch')],
      })
      server.send(encodeMessage(res, { fingerprint: true }), rinfo.port, rinfo.address)
    })
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r))
    try {
      const err = await TurnClient.allocate(
        {
          host: '127.0.0.1',
          port: server.address().port,
          username: 'u',
          password: 'p',
        },
        { timeoutMs: 5000 },
      ).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TurnError)
      expect((err as TurnError).code).toBe('TURN_ALLOCATION_MISMATCH')
      // Three attempts, each from its own local port (a new 5-tuple).
      expect(askedFrom).toHaveLength(3)
      expect(new Set(askedFrom).size).toBe(3)
    } finally {
      server.close()
    }
  })
})
