import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { CipherState, NoiseCipher } from '../src/noise/cipher-state.js'
import { x25519FromSecret } from '../src/noise/dh.js'
import { HandshakeState, NOISE_PROTOCOL_NAME, noiseProtocolName } from '../src/noise/handshake.js'

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

const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8')) as {
    vectors: Vector[]
  }

const files: [NoiseCipher, { vectors: Vector[] }][] = [
  ['ChaChaPoly', load('noise-xx-25519-chachapoly-sha256.json')],
  ['AESGCM', load('noise-xx-25519-aesgcm-sha256.json')],
]

const hex = (s: string) => Buffer.from(s, 'hex')

describe.each(files)('Noise_XX_25519_%s_SHA256 official vectors', (cipher, file) => {
  it('has the vectors committed', () => {
    expect(file.vectors.map((v) => v.source)).toEqual(['cacophony', 'snow'])
    if (cipher === 'ChaChaPoly') expect(noiseProtocolName(cipher)).toBe(NOISE_PROTOCOL_NAME)
  })

  for (const v of file.vectors) {
    it(`reproduces ${v.source} byte for byte`, () => {
      expect(v.protocol_name).toBe(noiseProtocolName(cipher))
      const initiator = new HandshakeState({
        cipher,
        initiator: true,
        prologue: hex(v.init_prologue),
        staticKey: x25519FromSecret(hex(v.init_static)),
        ephemeralKey: x25519FromSecret(hex(v.init_ephemeral)),
      })
      const responder = new HandshakeState({
        cipher,
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
