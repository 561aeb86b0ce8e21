import { EventEmitter } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { generateIdentity } from '@p2pd/identity'
import { TimeoutError } from '@p2pd/interface'
import { gcEvery } from '@p2pd/testkit/gc'
import { type Mosquitto, startMosquitto } from '@p2pd/testkit/mosquitto'
import { freePort } from '@p2pd/testkit/ports'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  encodeRecord,
  lookupName,
  NameError,
  NamePublisher,
  type NameRecord,
  nameFor,
  nameResolver,
  nameTopic,
  publishRecord,
  signRecord,
} from '../src/index.js'
import { addressOf, nowS } from './helpers.js'

// Real mosquitto brokers on loopback, started for this file; a missing mosquitto fails here.
let brokers: Mosquitto[] = []
let urls: string[] = []
/** A loopback port nothing listens on: a broker that is down. */
let deadUrl = ''

beforeAll(async () => {
  brokers = await Promise.all([0, 1].map(() => startMosquitto()))
  urls = brokers.map((b) => b.url)
  deadUrl = `mqtt://127.0.0.1:${await freePort()}`
})
afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()))
})

/** Publishes raw bytes as the retained message of `name` on `url`, as anyone on an open broker can. */
async function rawRetain(url: string, name: string, payload: Uint8Array): Promise<void> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 })
  try {
    await client.publishAsync(nameTopic(name), Buffer.from(payload), { qos: 1, retain: true })
  } finally {
    await client.endAsync(true)
  }
}

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p
  } catch (err) {
    return (err as { code?: string }).code ?? String(err)
  }
  return 'resolved'
}

function owner(label: string) {
  const identity = generateIdentity()
  const publisher = new NamePublisher({ identity, label, brokers: urls })
  return { identity, publisher, name: publisher.name }
}

describe('names over mosquitto', () => {
  it('publish on every broker, then resolve to the address', async () => {
    const alice = owner('alice')
    const result = await alice.publisher.publish(addressOf(alice.identity, 4000))
    expect(result.accepted).toEqual(urls)
    const resolver = nameResolver({ brokers: urls })
    const record = await resolver.resolveRecord(alice.name)
    expect(record.address).toBe(addressOf(alice.identity, 4000))
    expect(record.nodeId).toBe(alice.identity.nodeId)
    expect(await resolver.resolve(alice.name)).toBe(addressOf(alice.identity, 4000))
  })

  it('follows address changes: the new record (higher seq) wins', async () => {
    const alice = owner('mover')
    const node = Object.assign(new EventEmitter<{ address: [string] }>(), {
      addressText: addressOf(alice.identity, 4000),
    })
    const first = await alice.publisher.follow(node)
    const resolver = nameResolver({ brokers: urls })
    expect((await resolver.resolveRecord(alice.name)).address).toBe(addressOf(alice.identity, 4000))
    const published = new Promise((r) => alice.publisher.once('published', r))
    node.addressText = addressOf(alice.identity, 4001)
    node.emit('address', node.addressText)
    await published
    const second = await resolver.resolveRecord(alice.name)
    expect(second.address).toBe(addressOf(alice.identity, 4001))
    expect(second.seq).toBeGreaterThan(first.seq)
    alice.publisher.close()
  })

  it('refuses forged records: another key, a bad signature, a name of another key', async () => {
    const alice = owner('victim')
    const genuine = (await alice.publisher.publish(addressOf(alice.identity))).seq
    const mallory = generateIdentity()
    // Mallory signs her own record and relabels it with Alice's name (fingerprint mismatch).
    const hers = signRecord(mallory, {
      name: nameFor('victim', mallory.nodeId),
      address: addressOf(mallory),
      seq: genuine + 1000,
      expires: nowS() + 600,
    })
    const relabelled: NameRecord = { ...hers, name: alice.name }
    await rawRetain(urls[0] as string, alice.name, encodeRecord(relabelled))
    // Alice's record with the address changed: the signature no longer holds.
    const real = alice.publisher.sign(addressOf(alice.identity))
    const tampered: NameRecord = {
      ...real,
      address: addressOf(alice.identity, 4999),
      seq: real.seq + 1000,
    }
    await rawRetain(urls[1] as string, alice.name, encodeRecord(tampered))
    const resolver = nameResolver({ brokers: urls })
    expect(await codeOf(resolver.resolveRecord(alice.name))).toBe('NAME_NOT_FOUND')
    // Mallory's genuine record under her own name is not an answer for Alice's name either.
    await rawRetain(urls[0] as string, alice.name, encodeRecord(hers))
    expect(await codeOf(resolver.resolveRecord(alice.name))).toBe('NAME_NOT_FOUND')
    // Garbage is refused the same way.
    await rawRetain(urls[1] as string, alice.name, new Uint8Array(3000).fill(1))
    expect(await codeOf(resolver.resolveRecord(alice.name))).toBe('NAME_NOT_FOUND')
    // The genuine record on one broker beats the forgery on the other.
    await publishRecord(alice.publisher.sign(addressOf(alice.identity, 4002)), {
      brokers: [urls[1] as string],
    })
    expect((await resolver.resolveRecord(alice.name)).address).toBe(addressOf(alice.identity, 4002))
  })

  it('refuses a stale (expired) record', async () => {
    const alice = owner('stale')
    const expired = signRecord(alice.identity, {
      name: alice.name,
      address: addressOf(alice.identity),
      seq: 5,
      expires: nowS() - 3600,
    })
    await Promise.all(urls.map((u) => rawRetain(u, alice.name, encodeRecord(expired))))
    const err = await nameResolver({ brokers: urls })
      .resolveRecord(alice.name)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NameError)
    expect((err as NameError).code).toBe('NAME_NOT_FOUND')
    expect((err as Error).message).toMatch(/expired/)
  })

  it('refuses a replayed older record once a newer one was seen', async () => {
    const alice = owner('replay')
    const nowMs = Date.now()
    const old = signRecord(alice.identity, {
      name: alice.name,
      address: addressOf(alice.identity, 4000),
      seq: nowMs,
      expires: nowS() + 3600,
    })
    // The newer record lives only 2 s, so the resolver's memory of it runs out below.
    const newer = signRecord(alice.identity, {
      name: alice.name,
      address: addressOf(alice.identity, 4001),
      seq: nowMs + 1,
      expires: nowS() + 2,
    })
    await Promise.all(urls.map((u) => rawRetain(u, alice.name, encodeRecord(newer))))
    const resolver = nameResolver({ brokers: urls, skewMs: 0 })
    expect((await resolver.resolveRecord(alice.name)).seq).toBe(newer.seq)
    // An attacker puts the older (still valid) record back on every broker.
    await Promise.all(urls.map((u) => rawRetain(u, alice.name, encodeRecord(old))))
    const again = await resolver.resolveRecord(alice.name)
    expect(again.seq).toBe(newer.seq) // the remembered record, never the replay
    expect(again.address).toBe(addressOf(alice.identity, 4001))
    // A resolver that never saw the newer one takes the old one: the memory is what refuses.
    expect((await nameResolver({ brokers: urls, skewMs: 0 }).resolveRecord(alice.name)).seq).toBe(
      old.seq,
    )
    // Once the remembered record has expired, the replay is refused outright.
    await new Promise((r) => setTimeout(r, 3_200))
    expect(await codeOf(resolver.resolveRecord(alice.name))).toBe('NAME_REPLAYED')
  })

  it('one broker down: publish and resolve still work', async () => {
    const alice = owner('survivor')
    const result = await new NamePublisher({
      identity: alice.identity,
      label: 'survivor',
      brokers: [deadUrl, urls[0] as string],
    }).publish(addressOf(alice.identity))
    expect(result.accepted).toEqual([urls[0]])
    expect(result.failed.map((f) => f.url)).toEqual([deadUrl])
    const t0 = performance.now()
    const record = await nameResolver({ brokers: [deadUrl, urls[0] as string] }).resolveRecord(
      alice.name,
    )
    expect(record.address).toBe(addressOf(alice.identity))
    expect(performance.now() - t0).toBeLessThan(4_000)
    // A broker killed after the publish: the other still answers.
    await brokers[1]?.kill()
    try {
      const r = await nameResolver({ brokers: urls }).resolveRecord(alice.name)
      expect(r.address).toBe(addressOf(alice.identity))
    } finally {
      await brokers[1]?.restart()
    }
  })

  it('every broker down: publish fails with NAME_PUBLISH_FAILED, resolve with NAME_NOT_FOUND', async () => {
    const alice = owner('nowhere')
    const publisher = new NamePublisher({
      identity: alice.identity,
      label: 'nowhere',
      brokers: [deadUrl],
    })
    expect(await codeOf(publisher.publish(addressOf(alice.identity)))).toBe('NAME_PUBLISH_FAILED')
    expect(await codeOf(nameResolver({ brokers: [deadUrl] }).resolveRecord(alice.name))).toBe(
      'NAME_NOT_FOUND',
    )
  })

  it('a broker that never answers: resolve fails with TIMEOUT within its deadline, even under GC', async () => {
    const { port, close } = await silentBroker()
    const stopGc = gcEvery(50)
    try {
      const name = nameFor('silent', generateIdentity().nodeId)
      const t0 = performance.now()
      const err = await nameResolver({ brokers: [`mqtt://127.0.0.1:${port}`], timeoutMs: 1_000 })
        .resolveRecord(name)
        .catch((e: unknown) => e)
      const ms = performance.now() - t0
      expect(err).toBeInstanceOf(TimeoutError)
      expect(ms).toBeGreaterThanOrEqual(950)
      expect(ms).toBeLessThan(4_000)
      // The caller's signal wins over the deadline.
      const ctrl = new AbortController()
      setTimeout(() => ctrl.abort(), 200)
      const aborted = await nameResolver({
        brokers: [`mqtt://127.0.0.1:${port}`],
        timeoutMs: 10_000,
      })
        .resolveRecord(name, { signal: ctrl.signal })
        .catch((e: unknown) => e)
      expect((aborted as { code?: string }).code).toBe('ABORTED')
    } finally {
      stopGc()
      await close()
    }
  })

  it('a silent broker beside a good one: resolve answers after the linger, publish within its deadline', async () => {
    const { port, close } = await silentBroker()
    const silentUrl = `mqtt://127.0.0.1:${port}`
    const stopGc = gcEvery(50)
    try {
      const alice = owner('patient')
      const t0 = performance.now()
      const result = await new NamePublisher({
        identity: alice.identity,
        label: 'patient',
        brokers: [silentUrl, urls[0] as string],
        timeoutMs: 1_000,
      }).publish(addressOf(alice.identity))
      const publishMs = performance.now() - t0
      expect(result.accepted).toEqual([urls[0]])
      expect(result.failed[0]?.error).toMatch(/timed out/)
      expect(publishMs).toBeGreaterThanOrEqual(950)
      expect(publishMs).toBeLessThan(4_000)
      const t1 = performance.now()
      const found = await lookupName(alice.name, {
        brokers: [silentUrl, urls[0] as string],
        timeoutMs: 20_000,
        lingerMs: 300,
      })
      expect(performance.now() - t1).toBeLessThan(5_000) // the linger, not the 20 s deadline
      expect(found.records[0]?.address).toBe(addressOf(alice.identity))
      expect(found.answered).toEqual([urls[0]])
      expect(found.problems).toEqual([{ url: silentUrl, error: 'no answer in time' }])
    } finally {
      stopGc()
      await close()
    }
  })
})

/** A TCP server that accepts connections and never says anything: a hung broker. */
async function silentBroker(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}
