import { createCipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { P2pdError } from '@p2pd/interface'

// secp256k1 over BigInt: just enough to make many ephemeral keys and their shared points by
// addition (E_i = E_0 + i·G, S_i = S_0 + i·B), ~50 µs each instead of two scalar multiplications.
const P = 2n ** 256n - 2n ** 32n - 977n
const G = {
  x: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
  y: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
}
type Affine = { x: bigint; y: bigint }
type Jacobian = { x: bigint; y: bigint; z: bigint }
const mod = (a: bigint) => ((a % P) + P) % P
function pow(b: bigint, e: bigint): bigint {
  let r = 1n
  let x = mod(b)
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = (r * x) % P
    x = (x * x) % P
  }
  return r
}
const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex')}`)
const bytes32 = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex')
function decompress(pk: Uint8Array): Affine {
  const x = big(pk.subarray(1))
  let y = pow(x ** 3n + 7n, (P + 1n) / 4n)
  if ((y & 1n) !== BigInt((pk[0] as number) & 1)) y = P - y
  return { x, y }
}
function compress(p: Affine): Buffer {
  return Buffer.concat([Buffer.from([p.y & 1n ? 3 : 2]), bytes32(p.x)])
}
/** Jacobian + affine (madd-2007-bl, a = 0). */
function add(p: Jacobian, q: Affine): Jacobian {
  const z1z1 = (p.z * p.z) % P
  const h = mod(((q.x * z1z1) % P) - p.x)
  const s2 = (((q.y * p.z) % P) * z1z1) % P
  const hh = (h * h) % P
  const i = (4n * hh) % P
  const j = (h * i) % P
  const r = mod(2n * (s2 - p.y))
  const v = (p.x * i) % P
  const x = mod(r * r - j - 2n * v)
  const y = mod(r * (v - x) - ((2n * p.y * j) % P))
  const z = mod((p.z + h) ** 2n - z1z1 - hh)
  return { x, y, z }
}
/** Affine form of many Jacobian points with one inversion (Montgomery's trick). */
function normalize(points: Jacobian[]): Affine[] {
  const prefix: bigint[] = []
  let acc = 1n
  for (const p of points) {
    prefix.push(acc)
    acc = (acc * p.z) % P
  }
  let inv = pow(acc, P - 2n)
  const out: Affine[] = new Array(points.length)
  for (let k = points.length - 1; k >= 0; k--) {
    const p = points[k] as Jacobian
    const zi = (inv * (prefix[k] as bigint)) % P
    inv = (inv * p.z) % P
    const zi2 = (zi * zi) % P
    out[k] = { x: (p.x * zi2) % P, y: (((p.y * zi2) % P) * zi) % P }
  }
  return out
}

/**
 * Forged `@p2pd/signal-mqtt` envelopes (`0x01 ‖ sealed box v1`, domain `signal`) for flood
 * tests: `count` envelopes to `victimId` that pass every cheap check and force the whole open: a fresh
 * ephemeral key each, a correct AEAD (so the victim decrypts), a real-looking sender key, and a
 * signature that fails only at the very end.
 */
export function forgeEnvelopes(victimId: string, count: number): Buffer[] {
  const victim = Buffer.from(victimId, 'hex')
  const b = decompress(victim)
  const ecdh = createECDH('secp256k1')
  ecdh.generateKeys()
  const e0 = big(ecdh.getPrivateKey())
  const eBase = decompress(ecdh.getPublicKey(null, 'compressed'))
  // S_0 = e_0·B: the ECDH gives x only; the y sign is the one for which S_0 + B = (e_0 + 1)·B.
  const x0 = big(ecdh.computeSecret(victim))
  const next = createECDH('secp256k1')
  next.setPrivateKey(bytes32(e0 + 1n))
  const x1 = big(next.computeSecret(victim))
  let s0: Affine = decompress(Buffer.concat([Buffer.from([2]), bytes32(x0)]))
  if (normalize([add({ ...s0, z: 1n }, b)])[0]?.x !== x1) s0 = { x: s0.x, y: P - s0.y }
  const senders = Array.from({ length: 16 }, () => {
    const key = createECDH('secp256k1')
    key.generateKeys()
    return key.getPublicKey(null, 'compressed')
  })
  const plaintext = Buffer.from(JSON.stringify({ v: 1, pad: 'x'.repeat(160) }))
  const out: Buffer[] = []
  let e: Jacobian = { ...eBase, z: 1n }
  let s: Jacobian = { ...s0, z: 1n }
  while (out.length < count) {
    const n = Math.min(512, count - out.length)
    const es: Jacobian[] = []
    const ss: Jacobian[] = []
    for (let k = 0; k < n; k++) {
      es.push(e)
      ss.push(s)
      e = add(e, G)
      s = add(s, b)
    }
    const ea = normalize(es)
    const sa = normalize(ss)
    for (let k = 0; k < n; k++) {
      const ephemeral = compress(ea[k] as Affine)
      const shared = bytes32((sa[k] as Affine).x)
      const salt = Buffer.concat([Buffer.from([1]), ephemeral, victim])
      const okm = Buffer.from(hkdfSync('sha256', shared, salt, 'p2pd/v1/box/signal', 44))
      const header = Buffer.concat([Buffer.from([1]), ephemeral])
      const inner = Buffer.concat([
        senders[out.length % senders.length] as Buffer,
        randomBytes(64),
        plaintext,
      ])
      const cipher = createCipheriv('chacha20-poly1305', okm.subarray(0, 32), okm.subarray(32), {
        authTagLength: 16,
      })
      cipher.setAAD(header, { plaintextLength: inner.length })
      const body = Buffer.concat([cipher.update(inner), cipher.final(), cipher.getAuthTag()])
      out.push(Buffer.concat([Buffer.from([1]), header, body]))
    }
  }
  return out
}

// The flooder runs in its own thread, so that its pace does not depend on the victim's event
// loop: a bare MQTT client (no library) publishing QoS 0 evenly over `ms` — MQTT 3.1.1, or 5
// when some envelopes carry a proof-of-work stamp (the `p2pd-pow` user property).
const FLOODER = `
const { workerData, parentPort } = require('node:worker_threads')
const net = require('node:net')
const { port, topic, envelopes, stamps, ms } = workerData
const v5 = stamps.some((s) => s)
const t = Buffer.from(topic)
const varint = (n) => {
  const out = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Buffer.from(out)
}
const str = (s) => {
  const b = Buffer.from(s)
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])
}
function packet(payload, stamp) {
  let props = Buffer.alloc(0)
  if (v5) {
    const user = stamp ? Buffer.concat([Buffer.from([0x26]), str('p2pd-pow'), str(stamp)]) : props
    props = Buffer.concat([varint(user.length), user])
  }
  const rest = Buffer.concat([str(topic), props, payload])
  return Buffer.concat([Buffer.from([0x30]), varint(rest.length), rest])
}
const socket = net.connect({ host: '127.0.0.1', port })
socket.on('error', (e) => parentPort.postMessage({ error: String(e) }))
socket.once('connect', () => {
  const id = str('flood-' + process.pid + '-' + Date.now())
  const variable = Buffer.from(v5 ? [0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 2, 0, 60, 0] : [0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60])
  const body = Buffer.concat([variable, id])
  socket.write(Buffer.concat([Buffer.from([0x10]), varint(body.length), body]))
  socket.once('data', () => {
    socket.on('data', () => {})
    const started = performance.now()
    let sent = 0
    const tick = () => {
      const due = Math.min(envelopes.length, Math.ceil(((performance.now() - started) / ms) * envelopes.length))
      const batch = []
      for (; sent < due; sent++) batch.push(packet(Buffer.from(envelopes[sent]), stamps[sent]))
      if (batch.length > 0) socket.write(Buffer.concat(batch))
      if (sent < envelopes.length) return setTimeout(tick, 5)
      socket.end(() => parentPort.postMessage({ sent, ms: performance.now() - started }))
    }
    tick()
  })
})
`

/** A forged envelope for {@link floodTopic}, with a proof-of-work stamp when the forger paid. */
export interface FloodItem {
  readonly payload: Buffer
  readonly pow?: string
}

/**
 * Publishes `envelopes` to `topic` on the MQTT broker at 127.0.0.1:`port`, evenly over `ms`,
 * from a worker thread (so the pace holds whatever the victim does to this event loop).
 * Resolves with how many were sent and how long it took.
 */
export async function floodTopic(
  port: number,
  topic: string,
  envelopes: readonly (Buffer | FloodItem)[],
  ms: number,
) {
  const items = envelopes.map((e) => (Buffer.isBuffer(e) ? { payload: e } : e))
  const workerData = {
    port,
    topic,
    envelopes: items.map((e) => e.payload),
    stamps: items.map((e) => e.pow),
    ms,
  }
  const worker = new Worker(FLOODER, { eval: true, workerData })
  try {
    const [reply] = (await once(worker, 'message')) as [
      { sent: number; ms: number; error?: string },
    ]
    if (reply.error) throw new P2pdError('HARDENING_FLOODER', `flooder: ${reply.error}`)
    return reply
  } finally {
    await worker.terminate()
  }
}

/** Merges two floods into one, each spread evenly over the same time. */
export function interleave(a: readonly FloodItem[], b: readonly FloodItem[]): FloodItem[] {
  const at = (k: number, n: number) => (k + 0.5) / n
  const out: FloodItem[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const takeA = j >= b.length || (i < a.length && at(i, a.length) <= at(j, b.length))
    out.push(takeA ? (a[i++] as FloodItem) : (b[j++] as FloodItem))
  }
  return out
}

// The attacker's stamping, in its own thread: SHA-256('p2pd/v1/signal/pow' ‖ SHA-256(envelope)
// ‖ 8-byte nonce) with `bits` leading zero bits, as many envelopes as it manages within `ms`.
const STAMPER = `
const { workerData, parentPort } = require('node:worker_threads')
const { createHash, hash } = require('node:crypto')
const { envelopes, bits, ms } = workerData
const domain = Buffer.from('p2pd/v1/signal/pow')
const zeros = (h) => {
  let n = 0
  for (const b of h) {
    if (b === 0) { n += 8; continue }
    return n + Math.clz32(b) - 24
  }
  return n
}
const started = performance.now()
const stamps = []
let hashes = 0
for (const e of envelopes) {
  if (performance.now() - started >= ms) break
  const input = Buffer.concat([domain, createHash('sha256').update(e).digest(), Buffer.alloc(8)])
  let found
  for (let n = 0; !found; n++) {
    if ((n & 4095) === 0 && performance.now() - started >= ms) break
    input.writeUInt32BE(n, input.length - 4)
    hashes++
    if (zeros(hash('sha256', input, 'buffer')) >= bits) found = input.subarray(input.length - 8).toString('hex')
  }
  if (found) stamps.push(found)
}
parentPort.postMessage({ stamps, hashes, ms: performance.now() - started })
`

/**
 * What one attacker thread achieves: stamps `envelopes` in order with `bits` of proof of work
 * for at most `ms`, in a worker thread. Returns the stamped envelopes, the stamps per second
 * and the hashes per second it managed.
 */
export async function stampForgeries(envelopes: readonly Buffer[], bits: number, ms: number) {
  const worker = new Worker(STAMPER, { eval: true, workerData: { envelopes, bits, ms } })
  try {
    const [reply] = (await once(worker, 'message')) as [
      { stamps: string[]; hashes: number; ms: number },
    ]
    const seconds = reply.ms / 1000
    return {
      items: reply.stamps.map((pow, k) => ({ payload: envelopes[k] as Buffer, pow })),
      stampsPerSecond: reply.stamps.length / seconds,
      hashesPerSecond: reply.hashes / seconds,
    }
  } finally {
    await worker.terminate()
  }
}
