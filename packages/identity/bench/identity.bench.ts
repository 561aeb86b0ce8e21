import { bench, describe } from 'vitest'
import { ecdsaSign, ecdsaVerify } from '../src/ecdsa.js'
import { STATIC_KEY_DOMAIN } from '../src/handshake-payload.js'
import { generateIdentity, open, seal, secureChannel, sign, verify } from '../src/index.js'
import { duplexPair, tcpPair } from '../test/helpers/streams.js'
import { formatThroughput, measureThroughput } from './throughput.js'

const alice = generateIdentity()
const bob = generateIdentity()
const message = new TextEncoder().encode('{"type":"connect","to":"127.0.0.1:4000","nonce":42}')
const signature = sign(alice, 'signal', message)
const box = seal(alice, bob.nodeId, message)
const staticKey = new Uint8Array(32).fill(7)
const proof = ecdsaSign(alice, STATIC_KEY_DOMAIN, staticKey)
const alicePublicKey = alice.publicKey

// The same-run throughput comparison the issue asks for: printed, not timed by tinybench.
// P2PD_BENCH_MIB=64 pnpm bench:micro … for a quicker run.
console.log(formatThroughput(await measureThroughput(Number(process.env.P2PD_BENCH_MIB ?? 512))))

describe('signatures and sealed boxes', () => {
  bench('sign (BIP-340, domain-separated)', () => {
    sign(alice, 'signal', message)
  })
  bench('verify', () => {
    verify(alice.nodeId, 'signal', message, signature)
  })
  bench('handshake identity proof: verify (ECDSA-secp256k1 low-s, node:crypto)', () => {
    ecdsaVerify(alicePublicKey, STATIC_KEY_DOMAIN, staticKey, proof)
  })
  bench('seal (ECDH + HKDF + ChaCha20-Poly1305 + sign)', () => {
    seal(alice, bob.nodeId, message)
  })
  bench('open (ECDH + HKDF + decrypt + verify)', () => {
    open(bob, box)
  })
})

describe('secure channel handshake (both ends in this process)', () => {
  bench('handshake over an in-memory pair', async () => {
    const [a, b] = duplexPair()
    const [pa, pb] = await Promise.all([
      secureChannel(a, { identity: alice, expectedPeer: bob.nodeId, initiator: true }),
      secureChannel(b, { identity: bob, expectedPeer: alice.nodeId, initiator: false }),
    ])
    pa.destroy()
    pb.destroy()
  })
  bench('TCP connect + handshake over loopback', async () => {
    const { client, server } = await tcpPair()
    const [pa, pb] = await Promise.all([
      secureChannel(client, { identity: alice, expectedPeer: bob.nodeId, initiator: true }),
      secureChannel(server, { identity: bob, expectedPeer: alice.nodeId, initiator: false }),
    ])
    pa.on('error', () => {})
    pb.on('error', () => {})
    pa.destroy()
    pb.destroy()
  })
})
