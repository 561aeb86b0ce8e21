import { generateIdentity } from '@p2pd/identity'
import { describe, expect, it } from 'vitest'
import { InboundQueue } from '../src/inbound-queue.js'
import { type EnvelopePayload, newMessageId, sealEnvelope } from '../src/index.js'
import { PairKeys } from '../src/pair-keys.js'
import { bob, bobPipeline } from './bob.js'

const alice = generateIdentity()

/** Alice's side: her pair keys, and envelopes to Bob with `ak` and the authenticator. */
function aliceSide() {
  const keys = new PairKeys()
  let seq = 0
  const envelope = (over: Partial<EnvelopePayload> = {}) => {
    const raw = sealEnvelope(alice, bob.nodeId, {
      v: 1,
      id: newMessageId(),
      ts: Date.now(),
      from: alice.nodeId,
      sid: '0123456789abcdef',
      seq: seq++,
      type: 'app/x',
      body: null,
      ak: keys.keyFor(bob.nodeId),
      ...over,
    })
    return { raw, auth: keys.authenticate(bob.nodeId, raw) }
  }
  return { keys, envelope }
}

describe('pair authenticators', () => {
  it('let a known peer through when the strangers’ budget is spent', () => {
    const { p, metrics } = bobPipeline()
    const a = aliceSide()
    // First contact: a stranger's envelope, spends the only token; Bob learns the key.
    const first = a.envelope()
    expect(p.accept(first.raw, first.auth)?.signal.from).toBe(alice.nodeId)
    // A stranger now finds the budget empty…
    const eve = generateIdentity()
    const fromEve = sealEnvelope(eve, bob.nodeId, {
      v: 1,
      id: newMessageId(),
      ts: Date.now(),
      from: eve.nodeId,
      sid: '0123456789abcdef',
      seq: 0,
      type: 'app/x',
      body: null,
    })
    expect(p.accept(fromEve)).toBeUndefined()
    expect(metrics.dropped.globalRateLimited).toBe(1)
    // …but Alice's authenticated envelopes still go through.
    for (let k = 0; k < 5; k++) {
      const next = a.envelope()
      expect(p.accept(next.raw, next.auth)?.signal.from).toBe(alice.nodeId)
    }
    expect(metrics.fromPeers).toBe(5)
  })

  it('drops a forged authenticator before opening anything', () => {
    const { p, metrics } = bobPipeline({ rate: 100, burst: 100 })
    const a = aliceSide()
    const first = a.envelope()
    p.accept(first.raw, first.auth)
    const opened = metrics.opened
    const next = a.envelope()
    const wrongMac = next.auth.slice(0, 16) + '0'.repeat(32)
    expect(p.accept(next.raw, wrongMac)).toBeUndefined()
    // The authenticator of one envelope on another: also forged.
    expect(p.accept(a.envelope().raw, next.auth)).toBeUndefined()
    expect(metrics.dropped.forged).toBe(2)
    expect(metrics.opened).toBe(opened)
  })

  it('without a known key id goes the strangers’ way (old senders, MQTT 3.1.1)', () => {
    const { p, metrics } = bobPipeline({ rate: 1, burst: 2 })
    const a = aliceSide()
    const e = a.envelope()
    expect(p.accept(e.raw)).toBeDefined()
    expect(p.accept(a.envelope().raw, 'ff'.repeat(24))).toBeDefined()
    expect(p.accept(a.envelope().raw, 'not hex')).toBeUndefined()
    expect(metrics.dropped.globalRateLimited).toBe(1)
    expect(metrics.fromPeers).toBe(0)
  })

  it('converge on one key when both sides picked one at once', () => {
    const mine = new PairKeys()
    const theirs = new PairKeys()
    const a = mine.keyFor('peer-b')
    const b = theirs.keyFor('peer-a')
    mine.learn('peer-b', b)
    theirs.learn('peer-a', a)
    expect(mine.keyFor('peer-b')).toBe(theirs.keyFor('peer-a'))
    // Each still accepts the other's authenticator.
    const env = Uint8Array.of(1, 2, 3)
    expect(theirs.check(mine.authenticate('peer-b', env), env)).toEqual({
      kind: 'peer',
      peer: 'peer-a',
    })
  })

  it('stay bounded: the least recently used peer is forgotten', () => {
    const keys = new PairKeys(3)
    for (const peer of ['a', 'b', 'c', 'd']) keys.keyFor(peer)
    expect(keys.size).toBe(3)
    const other = new PairKeys()
    other.learn('x', keys.keyFor('b'))
    const env = Uint8Array.of(9)
    expect(keys.check(other.authenticate('x', env), env).kind).toBe('peer')
  })
})

describe('reused ephemeral keys', () => {
  it('are refused unopened: a real sender never reuses one', () => {
    const { p, metrics } = bobPipeline({ rate: 100, burst: 100 })
    const e = aliceSide().envelope()
    expect(p.accept(e.raw)).toBeDefined()
    const tampered = Uint8Array.from(e.raw)
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
    const opened = metrics.opened
    expect(p.accept(tampered)).toBeUndefined()
    expect(metrics.dropped.reusedKey).toBe(1)
    expect(metrics.opened).toBe(opened)
  })
})

describe('InboundQueue', () => {
  it('opens in slices, peers first, and drops what does not fit', async () => {
    const { p, metrics } = bobPipeline({ rate: 1_000, burst: 1_000 })
    const a = aliceSide()
    const first = a.envelope()
    p.accept(first.raw, first.auth)
    const order: string[] = []
    const q = new InboundQueue(p, (m) => order.push(String(m.signal.message.body)), {
      maxPeerPending: 4,
      maxStrangerPending: 3,
      sliceMs: 1,
    })
    const eve = generateIdentity()
    for (let k = 0; k < 5; k++) {
      q.push(
        sealEnvelope(eve, bob.nodeId, {
          v: 1,
          id: newMessageId(),
          ts: Date.now(),
          from: eve.nodeId,
          sid: '0123456789abcdef',
          seq: k,
          type: 'app/x',
          body: `eve${k}`,
        }),
      )
    }
    const peer = a.envelope({ body: 'alice' })
    q.push(peer.raw, peer.auth)
    q.push(peer.raw, peer.auth) // its redundant copy, while the first still waits
    expect(order).toEqual([]) // nothing opened on the caller's turn
    expect(metrics.dropped.overloaded).toBe(2)
    expect(metrics.dropped.replayed).toBe(1)
    await new Promise<void>((resolve) => {
      const poll = () => (q.pending === 0 ? resolve() : setImmediate(poll))
      poll()
    })
    expect(order).toEqual(['alice', 'eve0', 'eve1', 'eve2'])
    q.close()
  })
})
