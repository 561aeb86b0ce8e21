import { createSocket, type Socket } from 'node:dgram'
import type { Endpoint } from '@p2pd/interface'
import {
  AttrType,
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  findAttribute,
  longTermKey,
  newTransactionId,
  readAttributes,
  StunClass,
  StunMethod,
} from '@p2pd/stun'
import { TurnClient, TurnServer, type TurnServerOptions } from '@p2pd/turn'
import type { Scenario, ScenarioResult } from '../scenario.js'

const USERS = { alice: 'wonderland', bob: 'builder' }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Logged {
  readonly at: number
  readonly bytes: number
}

/** An attacker's raw UDP socket on a loopback address; logs every byte both ways. */
class Attacker {
  readonly sent: Logged[] = []
  readonly replies: Array<Logged & { readonly msg: Buffer }> = []

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg) =>
      this.replies.push({ at: performance.now(), bytes: msg.length, msg }),
    )
  }

  static async open(address: string): Promise<Attacker> {
    const socket = createSocket('udp4')
    await new Promise<void>((r) => socket.bind(0, address, () => r()))
    return new Attacker(socket)
  }

  send(bytes: Buffer, to: Endpoint): void {
    this.sent.push({ at: performance.now(), bytes: bytes.length })
    this.socket.send(bytes, to.port, to.host)
  }

  answered(tid: Uint8Array): boolean {
    return this.replies.some((r) => r.msg.subarray(8, 20).equals(Buffer.from(tid)))
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()))
  }
}

const sum = (xs: readonly Logged[]) => xs.reduce((n, x) => n + x.bytes, 0)

/** The worst bytes-out / bytes-in over the 10 s windows ending at each reply. */
function worstWindowRatio(a: Attacker): number {
  let worst = 0
  for (const r of a.replies) {
    const inside = (x: Logged) => x.at > r.at - 10_000 && x.at <= r.at
    const out = sum(a.replies.filter(inside))
    const got = sum(a.sent.filter(inside))
    worst = Math.max(worst, got === 0 ? Number.POSITIVE_INFINITY : out / got)
  }
  return worst
}

function unsignedAllocate(padding = 0): { bytes: Buffer; tid: Uint8Array } {
  const tid = newTransactionId()
  const attributes = padding > 0 ? [attr.software('p'.repeat(padding))] : []
  const m = createMessage({
    method: StunMethod.Allocate,
    cls: StunClass.Request,
    transactionId: tid,
    attributes,
  })
  return { bytes: encodeMessage(m, {}), tid }
}

function signedAllocate(user: string, password: string, realm: string, nonce: string) {
  const tid = newTransactionId()
  const m = createMessage({
    method: StunMethod.Allocate,
    cls: StunClass.Request,
    transactionId: tid,
    attributes: [
      attr.uint32(AttrType.RequestedTransport, 17 << 24),
      attr.username(user),
      attr.realm(realm),
      attr.nonce(nonce),
    ],
  })
  const key = longTermKey(user, realm, password, 'md5')
  const bytes = encodeMessage(m, { integrity: { key, algorithm: 'sha1' }, fingerprint: true })
  return { bytes, tid }
}

/** Realm and nonce from a 401, asked for with a request big enough to pay for the answer. */
async function challenge(a: Attacker, to: Endpoint): Promise<{ realm: string; nonce: string }> {
  const req = unsignedAllocate(200)
  a.send(req.bytes, to)
  for (let i = 0; i < 100 && !a.answered(req.tid); i++) await sleep(10)
  const reply = a.replies.find((r) => r.msg.subarray(8, 20).equals(Buffer.from(req.tid)))
  if (!reply) throw new Error('no 401 to a paid-for Allocate')
  const attrs = readAttributes(decodeMessage(reply.msg))
  return { realm: attrs.realm ?? '', nonce: attrs.nonce ?? '' }
}

async function withServer<T>(
  opts: Partial<TurnServerOptions>,
  f: (s: TurnServer) => Promise<T>,
): Promise<T> {
  const s = new TurnServer({ users: USERS, ...opts })
  await s.start()
  try {
    return await f(s)
  } finally {
    await s.close()
  }
}

/** Wrong passwords for one user from one source: answered a few times, then back-off. */
const wrongPasswordFlood: Scenario = {
  group: 'turn',
  name: 'wrong-password flood',
  run: ({ short, signal, log }) =>
    withServer({}, async (s) => {
      const attacker = await Attacker.open('127.0.0.2')
      try {
        const { realm, nonce } = await challenge(attacker, s.address)
        const burst = short ? 200 : 2000
        const base = attacker.replies.length
        const t0 = performance.now()
        for (let i = 0; i < burst; i++) {
          attacker.send(signedAllocate('alice', `guess${i}`, realm, nonce).bytes, s.address)
          if (i % 100 === 99) await sleep(1)
        }
        await sleep(200)
        const burstReplies = attacker.replies.length - base
        log(`  ${burst} wrong passwords: ${burstReplies} replies`)
        // Then one guess every 25 ms: answered only when a back-off window ends.
        const probeMs = short ? 7_500 : 31_500
        const answeredAt: number[] = []
        let probes = 0
        const p0 = performance.now()
        while (performance.now() - p0 < probeMs && !signal.aborted) {
          const g = signedAllocate('alice', `probe${probes++}`, realm, nonce)
          attacker.send(g.bytes, s.address)
          await sleep(25)
          if (attacker.answered(g.tid)) answeredAt.push(Math.round(performance.now() - p0))
        }
        const gaps = answeredAt.slice(1).map((t, i) => t - (answeredAt[i] as number))
        const growing =
          gaps.length >= 1 && gaps.every((g, i) => i === 0 || g >= 1.6 * (gaps[i - 1] ?? 0))
        const attempts = burst + probes
        const replies = burstReplies + answeredAt.length
        log(`  probes answered at ${answeredAt.join(', ')} ms`)
        return [
          {
            name: 'wrong-password flood (one user, one source)',
            attempts,
            fault: `${burst} wrong-password Allocates at once, then one every 25 ms for ${probeMs / 1000} s`,
            outcome:
              `${replies} replies to ${attempts} attempts (${burstReplies} to the burst, in ` +
              `${Math.round(performance.now() - t0)} ms overall); back-off windows ${gaps.join(' → ')} ms`,
            bar: '≤ 5 replies to the burst; later replies only as each back-off ends, each window ≥ 1.6× the last',
            pass:
              burstReplies <= 5 && growing && answeredAt.length <= Math.log2(probeMs / 1000) + 2,
            figures: {
              attempts,
              replies,
              burstReplies,
              authFailures: s.stats.authFailures,
              throttledFailedAuth: s.stats.throttledFailedAuth,
              backoffWindowsMs: gaps.join(' '),
            },
          },
        ]
      } finally {
        await attacker.close()
      }
    }),
}

/** Bare Allocates (20 bytes) against a server with and without SOFTWARE and a long realm. */
const amplification: Scenario = {
  group: 'turn',
  name: 'amplification ratio',
  async run({ short, signal, log }) {
    const seconds = short ? 1.5 : 12
    const variants: Array<[string, Partial<TurnServerOptions>]> = [
      ['no SOFTWARE', {}],
      ['SOFTWARE + long realm', { software: 'x'.repeat(120), realm: 'r'.repeat(160) }],
    ]
    const results: ScenarioResult[] = []
    for (const [label, opts] of variants) {
      for (const [mode, perTick] of [
        ['flood', 10],
        ['paced within the rate budget', 0],
      ] as const) {
        const row = await withServer(opts, async (s) => {
          const attacker = await Attacker.open('127.0.0.3')
          try {
            const t0 = performance.now()
            let tick = 0
            while (performance.now() - t0 < seconds * 1000 && !signal.aborted) {
              // flood: ~2,000/s; paced: one every 60 ms (~17/s, under the 20/s budget).
              const n = perTick || 1
              for (let i = 0; i < n; i++) attacker.send(unsignedAllocate().bytes, s.address)
              await sleep(perTick ? 5 : 60)
              tick++
            }
            await sleep(200)
            const out = sum(attacker.replies)
            const got = sum(attacker.sent)
            const worst = worstWindowRatio(attacker)
            const software = attacker.replies.filter(
              (r) => findAttribute(decodeMessage(r.msg), AttrType.Software) !== undefined,
            ).length
            log(
              `  ${label}, ${mode}: in ${got} B, out ${out} B, worst 10 s window ${worst.toFixed(2)}`,
            )
            return {
              name: `bare-Allocate ${mode}, ${label}`,
              attempts: attacker.sent.length,
              fault: `20-byte Allocates for ${seconds} s (${tick} rounds) from one source`,
              outcome:
                `${attacker.replies.length} replies, ${out} B out / ${got} B in ` +
                `(${(out / got).toFixed(3)}); worst 10 s window ${worst.toFixed(3)}; ` +
                `${s.stats.amplificationLimited} replies held back, ${s.stats.droppedUnauthenticated} dropped`,
              bar: 'bytes out ≤ bytes in over every 10 s window; no SOFTWARE to strangers',
              pass: worst <= 1 && out <= got && software === 0,
              figures: {
                bytesIn: got,
                bytesOut: out,
                ratio: Number((out / got).toFixed(4)),
                worstWindowRatio: Number(worst.toFixed(4)),
                amplificationLimited: s.stats.amplificationLimited,
                droppedUnauthenticated: s.stats.droppedUnauthenticated,
              },
            } satisfies ScenarioResult
          } finally {
            await attacker.close()
          }
        })
        results.push(row)
      }
    }
    return results
  },
}

/** One address per special-purpose range, and embedded forms; CreatePermission sends nothing. */
const REGISTRY_SAMPLES = [
  '127.0.0.1',
  '10.0.0.1',
  '172.16.0.1',
  '192.168.0.1',
  '169.254.169.254',
  '100.64.0.1',
  '0.0.0.1',
  '192.0.0.9',
  '192.0.2.1',
  '192.88.99.1',
  '198.18.0.1',
  '198.51.100.1',
  '203.0.113.1',
  '224.0.0.251',
  '240.0.0.1',
  '255.255.255.255',
  '::',
  '::1',
  'fd00::1',
  'fe80::1',
  'fec0::1',
  'ff02::1',
  '2001:db8::1',
  '3fff::1',
  '100::1',
  '2001::1',
  '2001:2::1',
  '64:ff9b:1::1',
  '::10.0.0.1',
  '::ffff:127.0.0.1',
  '::ffff:0:192.168.0.1',
  '64:ff9b::10.0.0.1',
  '2002:a00:1::1',
  '2002:c612:1::1',
]

const registryRanges: Scenario = {
  group: 'turn',
  name: 'registry ranges refused',
  run: ({ log }) =>
    withServer({}, async (s) => {
      const c = await TurnClient.allocate(
        { ...s.address, username: 'alice', password: USERS.alice },
        { timeoutMs: 5000, rtoMs: 100 },
      )
      try {
        let refused = 0
        const leaked: string[] = []
        for (const host of REGISTRY_SAMPLES) {
          const ok = await c.createPermission({ host, port: 9 }).then(
            () => true,
            () => false,
          )
          if (ok) leaked.push(host)
          else refused++
        }
        const control = await c.createPermission({ host: '192.0.1.1', port: 9 }).then(
          () => true,
          () => false,
        )
        log(`  refused ${refused}/${REGISTRY_SAMPLES.length}; public control accepted: ${control}`)
        return [
          {
            name: 'special-purpose ranges as peers',
            attempts: REGISTRY_SAMPLES.length,
            fault: 'CreatePermission to loopback, private, reserved and IPv4-embedding IPv6 peers',
            outcome:
              `${refused}/${REGISTRY_SAMPLES.length} refused (403)` +
              `${leaked.length ? `, accepted: ${leaked.join(' ')}` : ''}; public control accepted: ${control}`,
            bar: 'every sample refused; a public address still accepted',
            pass: refused === REGISTRY_SAMPLES.length && control,
            figures: {
              refused,
              samples: REGISTRY_SAMPLES.length,
              refusedPeers: s.stats.refusedPeers,
            },
          },
        ]
      } finally {
        await c.close()
      }
    }),
}

/** A real client from 127.0.0.1 while 127.0.0.2 floods bare Allocates and wrong passwords. */
const legitimateDuringFlood: Scenario = {
  group: 'turn',
  name: 'legitimate allocate during flood',
  async run({ short, log }) {
    const trials = short ? 2 : 10
    const firsts: number[] = []
    const nexts: number[] = []
    let failures = 0
    let floodSent = 0
    let floodReplies = 0
    for (let t = 0; t < trials; t++) {
      await withServer({}, async (s) => {
        const flooder = await Attacker.open('127.0.0.2')
        const { realm, nonce } = await challenge(flooder, s.address)
        let flooding = true
        const flood = (async () => {
          while (flooding) {
            for (let i = 0; i < 40; i++) flooder.send(unsignedAllocate().bytes, s.address)
            for (let i = 0; i < 10; i++) {
              flooder.send(signedAllocate('alice', 'x', realm, nonce).bytes, s.address)
            }
            await sleep(5)
          }
        })()
        const opts = { timeoutMs: 5000, localAddress: '127.0.0.1' }
        const creds = { ...s.address, username: 'alice', password: USERS.alice }
        try {
          await sleep(200)
          const t0 = performance.now()
          const c = await TurnClient.allocate(creds, opts)
          firsts.push(performance.now() - t0)
          const t1 = performance.now()
          const d = await TurnClient.allocate(creds, opts)
          nexts.push(performance.now() - t1)
          await Promise.all([c.close(), d.close()])
        } catch (err) {
          failures++
          log(`  trial ${t + 1}: ${(err as Error).message}`)
        } finally {
          flooding = false
          await flood
          floodSent += flooder.sent.length
          floodReplies += flooder.replies.length
          await flooder.close()
        }
      })
    }
    const worst = Math.max(...firsts, 0)
    const median = [...firsts].sort((a, b) => a - b)[Math.floor(firsts.length / 2)] ?? 0
    log(
      `  first allocate ${firsts.map(Math.round).join(', ')} ms; next ${nexts.map(Math.round).join(', ')} ms`,
    )
    return [
      {
        name: 'legitimate allocate while another source floods',
        attempts: trials,
        fault: '~10,000 bare Allocates/s + 2,000 wrong passwords/s from a second loopback address',
        outcome:
          `${trials - failures}/${trials} allocated; first from its address median ${Math.round(median)} ms, ` +
          `worst ${Math.round(worst)} ms; next ≤ ` +
          `${Math.round(Math.max(...nexts, 0))} ms; flooder got ${floodReplies} replies to ${floodSent}`,
        bar: 'every trial allocates, first within 2 s, next within 300 ms',
        pass: failures === 0 && worst < 2000 && Math.max(...nexts, 0) < 300,
        recoveryMs: Math.round(worst),
        figures: {
          medianFirstMs: Math.round(median),
          worstFirstMs: Math.round(worst),
          worstNextMs: Math.round(Math.max(...nexts, 0)),
          floodSent,
          floodReplies,
        },
      },
    ]
  },
}

export default [
  wrongPasswordFlood,
  amplification,
  registryRanges,
  legitimateDuringFlood,
] satisfies Scenario[]
