import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { CipherState } from '../src/noise/cipher-state.js'
import { x25519FromSecret } from '../src/noise/dh.js'
import { HandshakeState, NOISE_PROTOCOL_NAME } from '../src/noise/handshake.js'

interface Vector {
  source: string
  protocol_name: string
  init_prologue: string
  init_static: string
  init_ephemeral: string
  resp_prologue: string
  resp_static: string
  resp_ephemeral: string
  handshake_hash?: string
  messages: { payload: string; ciphertext: string }[]
}

const file = JSON.parse(
  readFileSync(new URL('./vectors/noise-xx-25519-chachapoly-sha256.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] }

const hex = (s: string) => Buffer.from(s, 'hex')

describe('Noise_XX_25519_ChaChaPoly_SHA256 official vectors', () => {
  it('has the vectors committed', () => {
    expect(file.vectors.map((v) => v.source)).toEqual(['cacophony', 'snow'])
  })

  for (const v of file.vectors) {
    it(`reproduces ${v.source} byte for byte`, () => {
      expect(v.protocol_name).toBe(NOISE_PROTOCOL_NAME)
      const initiator = new HandshakeState({
        initiator: true,
        prologue: hex(v.init_prologue),
        staticKey: x25519FromSecret(hex(v.init_static)),
        ephemeralKey: x25519FromSecret(hex(v.init_ephemeral)),
      })
      const responder = new HandshakeState({
        initiator: false,
        prologue: hex(v.resp_prologue),
        staticKey: x25519FromSecret(hex(v.resp_static)),
        ephemeralKey: x25519FromSecret(hex(v.resp_ephemeral)),
      })
      let transport: { i: [CipherState, CipherState]; r: [CipherState, CipherState] } | undefined
      v.messages.forEach((m, index) => {
        const fromInitiator = index % 2 === 0
        let ciphertext: Buffer
        let payload: Buffer
        if (!transport) {
          const [sender, receiver] = fromInitiator ? [initiator, responder] : [responder, initiator]
          ciphertext = sender.writeMessage(hex(m.payload))
          payload = receiver.readMessage(ciphertext)
          if (initiator.result && responder.result) {
            transport = {
              i: [initiator.result.send, initiator.result.receive],
              r: [responder.result.send, responder.result.receive],
            }
            if (v.handshake_hash) {
              expect(initiator.result.handshakeHash.toString('hex')).toBe(v.handshake_hash)
            }
            expect(responder.result.handshakeHash).toEqual(initiator.result.handshakeHash)
            expect(responder.result.remoteStatic).toEqual(
              x25519FromSecret(hex(v.init_static)).publicRaw,
            )
          }
        } else {
          const [send, receive] = fromInitiator
            ? [transport.i[0], transport.r[1]]
            : [transport.r[0], transport.i[1]]
          ciphertext = send.encryptWithAd(Buffer.alloc(0), hex(m.payload))
          payload = receive.decryptWithAd(Buffer.alloc(0), ciphertext)
        }
        expect(ciphertext.toString('hex'), `message ${index}`).toBe(m.ciphertext)
        expect(payload.toString('hex')).toBe(m.payload)
      })
      expect(transport).toBeDefined()
    })
  }
})
