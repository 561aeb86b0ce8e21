// Relayed stream throughput on loopback, through our TurnServer and through coturn, next to
// the direct path (plain TCP) in the same run — each with the secure channel on top, as the
// node uses them. Prints MB/s and Mbit/s. `pnpm vitest bench --run --project turn`.
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { generateIdentity, secureChannel } from '@p2pd/identity'
import { type Coturn, startCoturn } from '@p2pd/testkit/coturn'
import { bench, describe } from 'vitest'
import { ReliableStream, TurnClient, TurnServer, type TurnServerConfig } from '../src/index.js'

const MB = 1024 * 1024
const SIZE = 32 * MB
const results: string[] = []

async function securePair(a: Duplex, b: Duplex): Promise<[Duplex, Duplex]> {
  const ia = generateIdentity()
  const ib = generateIdentity()
  return Promise.all([
    secureChannel(a, { identity: ia, expectedPeer: ib.nodeId, initiator: true, timeoutMs: 10_000 }),
    secureChannel(b, {
      identity: ib,
      expectedPeer: ia.nodeId,
      initiator: false,
      timeoutMs: 10_000,
    }),
  ])
}

/** Sends SIZE bytes a → b with backpressure; returns seconds. */
async function transfer(a: Duplex, b: Duplex): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 7)
  let received = 0
  const done = new Promise<void>((resolve) => {
    b.on('data', (c: Buffer) => {
      received += c.length
      if (received >= SIZE) resolve()
    })
  })
  const started = performance.now()
  for (let sent = 0; sent < SIZE; sent += chunk.length) {
    if (!a.write(chunk)) await once(a, 'drain')
  }
  await done
  return (performance.now() - started) / 1000
}

function report(name: string, seconds: number): void {
  const mbs = SIZE / MB / seconds
  const line = `${name.padEnd(34)} ${mbs.toFixed(1).padStart(7)} MB/s ${(mbs * 8.388608).toFixed(0).padStart(6)} Mbit/s`
  results.push(line)
  console.log(line)
}

async function relayed(configA: TurnServerConfig, configB: TurnServerConfig): Promise<number> {
  try {
    return await relayedOnce(configA, configB)
  } catch (err) {
    console.error('relayed run failed', err)
    throw err
  }
}

async function relayedOnce(configA: TurnServerConfig, configB: TurnServerConfig): Promise<number> {
  const [ca, cb] = await Promise.all([TurnClient.allocate(configA), TurnClient.allocate(configB)])
  await Promise.all([ca.bindChannel(cb.relayed), cb.bindChannel(ca.relayed)])
  const sa = new ReliableStream(ca.link(cb.relayed, { closeClient: true }), { conv: 1 })
  const sb = new ReliableStream(cb.link(ca.relayed, { closeClient: true }), { conv: 1 })
  const [pa, pb] = await securePair(sa, sb)
  const seconds = await transfer(pa, pb)
  pa.destroy()
  pb.destroy()
  await Promise.all([sa.released, sb.released])
  return seconds
}

async function direct(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const client = connect({ host: '127.0.0.1', port })
  await once(client, 'connect')
  const [socket] = await accepted
  const [pa, pb] = await securePair(client, socket)
  const seconds = await transfer(pa, pb)
  pa.destroy()
  pb.destroy()
  server.close()
  return seconds
}

describe('relayed vs direct throughput (loopback, secure channel on top)', () => {
  // One bench that measures every path in turn, so they share the same run (and machine
  // state). Servers are started inside it: bench mode does not run beforeAll hooks first.
  bench(
    'direct vs relayed (ours, coturn)',
    async () => {
      results.length = 0
      const coturn: Coturn = await startCoturn()
      const ours = new TurnServer({ users: { bench: 'bench' }, allowLoopbackPeers: true })
      await ours.start()
      try {
        report('direct (TCP + secure channel)', await direct())
        const o = { ...ours.address, username: 'bench', password: 'bench' }
        report('relayed, our TurnServer (UDP)', await relayed(o, o))
        const c = {
          host: coturn.host,
          port: coturn.port,
          username: coturn.user,
          password: coturn.password,
        }
        report('relayed, coturn (UDP)', await relayed(c, c))
        const t = { ...c, transport: 'tcp' as const }
        report('relayed, coturn (TCP to the server)', await relayed(t, t))
      } finally {
        await ours.close()
        await coturn.stop()
      }
      console.log(`\n${SIZE / MB} MB per run:\n${results.join('\n')}`)
    },
    { iterations: 1, time: 0, warmupIterations: 0, warmupTime: 0 },
  )
})
