import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { generateIdentity, secureChannel } from '@p2pd/identity'
import { MemorySignalingHub, sleep } from '@p2pd/interface'
import { createNode, direct, type InboundLimits } from '@p2pd/node'
import {
  DIRECT_PREAMBLE,
  HELLO_PREFIX,
  loopbackSource,
  openStranger,
  type Stranger,
  type StrangerPlan,
} from '@p2pd/testkit/strangers'
import type { Scenario, ScenarioResult } from '../scenario.js'

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const VICTIM = join(PACKAGE_DIR, 'src', 'strangers-victim.ts')
/** "Closed by its deadline" allows this much lateness. */
const LATE = 0.1

interface VictimInit {
  readonly inbound?: InboundLimits
  readonly handshakeTimeoutMs?: number
  /** Open-file limit (soft and hard) of the victim's process. */
  readonly nofile?: number
}

interface Victim {
  readonly address: string
  readonly port: number
  readonly pid: number
  // biome-ignore lint/suspicious/noExplicitAny: JSON replies
  request(op: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<any>
  stop(): Promise<void>
}

/** Starts the victim node in its own process (under `prlimit` when `nofile` is given). */
async function startVictim(init: VictimInit): Promise<Victim> {
  const node = [
    process.execPath,
    '--expose-gc',
    '--conditions=@p2pd/source',
    '--import',
    'tsx',
    VICTIM,
    JSON.stringify({ inbound: init.inbound, handshakeTimeoutMs: init.handshakeTimeoutMs }),
  ]
  const argv = init.nofile ? ['prlimit', `--nofile=${init.nofile}:${init.nofile}`, ...node] : node
  const child: ChildProcess = spawn(argv[0] as string, argv.slice(1), {
    cwd: PACKAGE_DIR,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-2000)
  })
  let seq = 0
  const pending = new Map<number, (msg: Record<string, unknown>) => void>()
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`victim not ready: ${stderr}`)), 20_000)
    child.once('exit', (code) => reject(new Error(`victim exited ${code}: ${stderr}`)))
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('{')) return
      const msg = JSON.parse(line) as Record<string, unknown>
      if (msg.ready) {
        clearTimeout(timer)
        resolve(msg)
      } else pending.get(msg.id as number)?.(msg)
    })
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await exited
  }
  const hello = await ready.catch(async (err) => {
    await kill()
    throw err
  })
  return {
    address: hello.address as string,
    port: hello.port as number,
    pid: child.pid ?? -1,
    request(op, args = {}, timeoutMs = 10_000) {
      const id = ++seq
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`victim: ${op} timed out`))
        }, timeoutMs)
        pending.set(id, (msg) => {
          clearTimeout(timer)
          pending.delete(id)
          resolve(msg)
        })
        child.stdin?.write(`${JSON.stringify({ id, op, ...args })}\n`)
      })
    },
    async stop() {
      child.stdin?.write(`${JSON.stringify({ id: 0, op: 'stop' })}\n`)
      const timer = setTimeout(() => void kill(), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/**
 * A stranger and the deadline that should close it, counted from its connect, from its
 * handshake (`ready`), or from the victim's first byte (`reply`: the victim's hello, sent when
 * it accepted the socket and read the preamble, so time spent in the kernel's accept queue,
 * which holds no fd of the victim's, is not counted against the deadline).
 */
interface Stall {
  readonly kind: string
  readonly stranger: Stranger
  readonly deadlineMs: number
  readonly from: 'connect' | 'ready' | 'reply'
}

interface Held {
  readonly kind: string
  readonly deadlineMs: number
  /** Open for this long: accept to close in the victim (NaN: still open when we gave up). */
  readonly heldMs: number
  /** From the connect to the victim's first byte (its accept queue, mostly). */
  readonly queuedMs: number
}

/**
 * Waits until every stall is closed or its deadline (+10 %) and `graceMs` are long past, then
 * asks the victim how long it held each socket.
 */
async function collect(stalls: readonly Stall[], graceMs: number, victim: Victim): Promise<Held[]> {
  const longest = Math.max(...stalls.map((s) => s.deadlineMs))
  const giveUp = sleep(longest * (1 + LATE) + graceMs).then(() => undefined)
  const measured = await Promise.all(
    stalls.map(async ({ kind, stranger, deadlineMs, from }) => {
      const closed = await Promise.race([stranger.closed, giveUp])
      const connectedAt = Number.isNaN(stranger.connectedAt)
        ? stranger.openedAt
        : stranger.connectedAt
      const replyAt = Number.isNaN(stranger.firstByteAt) ? connectedAt : stranger.firstByteAt
      const start = from === 'ready' ? stranger.readyAt : from === 'reply' ? replyAt : connectedAt
      return {
        kind,
        deadlineMs,
        key: stranger.key,
        byVictim: from !== 'ready',
        heldMs: closed ? closed.at - start : Number.NaN,
        queuedMs: replyAt - connectedAt,
      }
    }),
  )
  for (const s of stalls) s.stranger.socket.destroy()
  const lifetimes = (await victim.request('lifetimes')).lifetimes as Record<string, number | null>
  return measured.map(({ key, byVictim, ...h }) => {
    const victimMs = lifetimes[key] ?? Number.NaN
    // The victim's own accept-to-close time where we know it (and the stage started at the
    // accept); the stranger's view otherwise (refused before it saw its connect, or timed
    // from the handshake).
    return { ...h, heldMs: byVictim && !Number.isNaN(victimMs) ? victimMs : h.heldMs }
  })
}

/** Figures for a set of stalls: still open, closed early (refused, evicted), max lateness. */
function summarize(held: readonly Held[]) {
  const open = held.filter((h) => Number.isNaN(h.heldMs)).length
  const closed = held.filter((h) => !Number.isNaN(h.heldMs))
  const early = closed.filter((h) => h.heldMs < h.deadlineMs * (1 - LATE)).length
  const onTime = closed.length - early
  const lateness = closed.map((h) => h.heldMs - h.deadlineMs)
  const maxLateMs = lateness.length ? Math.max(...lateness) : 0
  // Every one closed by its own deadline, at most LATE late.
  const allOnTime = open === 0 && closed.every((h) => h.heldMs <= h.deadlineMs * (1 + LATE))
  const queued = held.map((h) => h.queuedMs).filter((q) => !Number.isNaN(q))
  const maxQueuedMs = Math.round(queued.length ? Math.max(...queued) : 0)
  return { open, early, onTime, maxLateMs: Math.round(maxLateMs), allOnTime, maxQueuedMs }
}

const strangerIdentity = generateIdentity()
/** Completes the secure handshake as a real (unknown) node, then never nominates. */
const authenticated: StrangerPlan = {
  send: DIRECT_PREAMBLE,
  afterConnect: (socket) =>
    secureChannel(socket, {
      identity: strangerIdentity,
      expectedPeer: () => true,
      initiator: true,
      timeoutMs: 10_000,
    }).then((pipe) => pipe.on('error', () => {})),
}

/**
 * Garbage, stalls at every stage, slowloris and authenticated-but-never-nominating strangers,
 * all at once against one victim (gc() every second in its process). Each must be closed by
 * the deadline of the stage it stalls in, at most 10 % late.
 */
const stalls: Scenario = {
  group: 'strangers',
  name: 'stalls at every inbound stage',
  async run({ short, log }): Promise<ScenarioResult[]> {
    const perKind = short ? 8 : 30 // 240 in all: under the default cap of 256 pending
    const stage = short ? 2_000 : 5_000 // the defaults in the full run
    const nomination = short ? 2_000 : 10_000
    const dripEveryMs = 300
    const victim = await startVictim({
      inbound: short
        ? { preambleTimeoutMs: stage, nominationTimeoutMs: nomination, totalTimeoutMs: 20_000 }
        : {},
      handshakeTimeoutMs: stage,
    })
    try {
      let source = 0
      const from = () => loopbackSource(source++) // one source each: only deadlines apply
      const kinds: Record<string, { plan: StrangerPlan; deadlineMs: number; ready?: true }> = {
        garbage: { plan: { send: Buffer.alloc(64, 0x47) }, deadlineMs: stage },
        silent: { plan: {}, deadlineMs: stage },
        'partial preamble': { plan: { send: DIRECT_PREAMBLE.subarray(0, 11) }, deadlineMs: stage },
        'preamble only': { plan: { send: DIRECT_PREAMBLE }, deadlineMs: stage },
        'preamble + partial hello': {
          plan: { send: Buffer.concat([DIRECT_PREAMBLE, HELLO_PREFIX]) },
          deadlineMs: stage,
        },
        'slowloris preamble': {
          plan: { drip: Buffer.concat([DIRECT_PREAMBLE, HELLO_PREFIX]), dripEveryMs },
          deadlineMs: stage,
        },
        'slowloris hello': {
          plan: { send: DIRECT_PREAMBLE, drip: HELLO_PREFIX, dripEveryMs },
          deadlineMs: stage,
        },
        'no nomination': { plan: authenticated, deadlineMs: nomination, ready: true },
      }
      const all: Stall[] = []
      for (const [kind, { plan, deadlineMs, ready }] of Object.entries(kinds)) {
        for (let i = 0; i < perKind; i++) {
          const stranger = openStranger('127.0.0.1', victim.port, { ...plan, from: from() })
          all.push({ kind, stranger, deadlineMs, from: ready ? 'ready' : 'connect' })
        }
      }
      log(`strangers: ${all.length} stalls opened`)
      const held = await collect(all, 3_000, victim)
      const stats = (await victim.request('stats')).stats
      log(`strangers: victim stats ${JSON.stringify(stats)}`)
      const rows = (kindsInRow: string[], name: string, fault: string): ScenarioResult => {
        const mine = held.filter((h) => kindsInRow.includes(h.kind))
        const s = summarize(mine)
        const isGarbage = name === 'garbage'
        const pass = isGarbage
          ? s.open === 0 && s.onTime === 0 // closed at once, long before any deadline
          : s.allOnTime && s.early === 0
        const deadlines = [...new Set(mine.map((h) => h.deadlineMs))].join('/')
        return {
          name,
          attempts: mine.length,
          fault,
          outcome: isGarbage
            ? `${mine.length - s.open}/${mine.length} closed at once, ${s.open} left open`
            : `${s.onTime}/${mine.length} closed by the ${deadlines} ms deadline, ` +
              `max ${s.maxLateMs} ms late; ${s.early} early, ${s.open} left open`,
          bar: isGarbage
            ? 'every connection closed at once (before any deadline)'
            : `every connection closed by its deadline, at most ${LATE * 100} % late`,
          pass,
          figures: {
            deadlineMs: deadlines,
            open: s.open,
            early: s.early,
            closedOnTime: s.onTime,
            maxLateMs: s.maxLateMs,
            victimTimedOutPreamble: stats.timedOut.preamble,
            victimTimedOutHandshake: stats.timedOut.handshake,
            victimTimedOutNomination: stats.timedOut.nomination,
            victimFailed: stats.failed,
          },
        }
      }
      return [
        rows(['garbage'], 'garbage', '64 bytes of junk instead of a preamble'),
        rows(
          ['silent', 'partial preamble', 'preamble only', 'preamble + partial hello'],
          'preamble-only stalls',
          'nothing, part of the preamble, the preamble alone, or preamble + 10 bytes of hello',
        ),
        rows(
          ['slowloris preamble', 'slowloris hello'],
          'slowloris',
          `one byte every ${dripEveryMs} ms, in the preamble or in the hello`,
        ),
        rows(['no nomination'], 'no nomination', 'completes the handshake, never nominates'),
      ]
    } finally {
      await victim.stop()
    }
  },
}

/** How many fds a process has open, or NaN where `/proc` cannot tell. */
function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return Number.NaN
  }
}

/**
 * More stalled strangers than the victim has file descriptors (its process runs under
 * `ulimit -n`), from many source addresses, while a legitimate peer connects to it and it
 * dials that peer. Every stall must be closed by its deadline (or refused at once), and both
 * legitimate connections must succeed.
 */
const fdExhaustion: Scenario = {
  group: 'strangers',
  name: 'stalled strangers past the fd limit',
  async run({ short, log }): Promise<ScenarioResult[]> {
    if (spawnSync('prlimit', ['--version']).status !== 0) {
      throw new Error('prlimit (util-linux) is needed to start the victim under ulimit -n')
    }
    const nofile = short ? 256 : 1024
    const count = short ? 300 : 1_100
    const stage = short ? 2_000 : 5_000 // the defaults in the full run
    const victim = await startVictim({
      nofile,
      inbound: short ? { preambleTimeoutMs: stage, totalTimeoutMs: 20_000 } : {},
      handshakeTimeoutMs: stage,
    })
    const hub = new MemorySignalingHub()
    const peer = createNode({
      signaling: (id) => hub.connect(id.nodeId),
      listen: { host: '127.0.0.1' },
      strategies: [direct()],
      networkCheckMs: 0,
    })
    await peer.start()
    const inbound = (async () => {
      for await (const pipe of peer.incoming) pipe.on('error', () => {})
    })()
    let maxFds = 0
    const sampler = setInterval(() => {
      maxFds = Math.max(maxFds, openFds(victim.pid) || 0)
    }, 50)
    try {
      const all: Stall[] = []
      const t0 = performance.now()
      for (let i = 0; i < count; i++) {
        // Four per source; each sends the preamble (no key needed) and stalls in the handshake.
        const stranger = openStranger('127.0.0.1', victim.port, {
          send: DIRECT_PREAMBLE,
          from: loopbackSource(i >> 2),
        })
        all.push({ kind: 'stall', stranger, deadlineMs: stage, from: 'reply' })
        if (i % 50 === 49) await sleep(20)
      }
      log(`strangers: ${count} stalls opened in ${Math.round(performance.now() - t0)} ms`)
      await sleep(300)
      const during = (await victim.request('stats')).stats
      const fdsDuringStall = openFds(victim.pid)

      // A legitimate peer dials in, and the victim dials out, while the stalls are held.
      let t = performance.now()
      const legit = await peer
        .connect(victim.address, { timeoutMs: 5_000 })
        .then(async (pipe) => {
          pipe.on('error', () => {})
          const echoed = new Promise<boolean>((resolve) =>
            pipe.once('data', (d: Buffer) => resolve(d.toString() === 'ping')),
          )
          pipe.write('ping')
          const ok = await Promise.race([echoed, sleep(3_000).then(() => false)])
          await pipe.close()
          return { ok, ms: performance.now() - t, error: ok ? '' : 'no echo' }
        })
        .catch((err: Error) => ({ ok: false, ms: performance.now() - t, error: err.message }))
      t = performance.now()
      const dial = await victim.request('connect', { address: peer.addressText })
      log(
        `strangers: legitimate inbound ${JSON.stringify(legit)}, victim dial ${JSON.stringify(dial)}`,
      )

      const held = await collect(all, 3_000, victim)
      const s = summarize(held)
      const stats = (await victim.request('stats')).stats
      log(`strangers: victim stats ${JSON.stringify(stats)}`)
      const refused = stats.refused.perSource + stats.refused.total + stats.refused.fdBudget
      const pass = s.allOnTime && legit.ok === true && dial.ok === true
      return [
        {
          name: `${count} stalled strangers at ulimit -n ${nofile}`,
          attempts: count,
          fault:
            `${count} preamble-only stalls from ${Math.ceil(count / 4)} source addresses, ` +
            `victim under ulimit -n ${nofile}`,
          outcome:
            `${s.onTime} closed by the ${stage} ms deadline (max ${s.maxLateMs} ms late), ` +
            `${s.early} refused or evicted at once, ${s.open} left open; legitimate connect ` +
            `${legit.ok ? 'ok' : `failed (${legit.error})`} in ${Math.round(legit.ms)} ms, ` +
            `victim's own dial ${dial.ok ? 'ok' : `failed (${dial.error})`} in ${Math.round(dial.ms)} ms`,
          bar:
            'every stall closed by its deadline (+10 %) or at once; a legitimate peer connects ' +
            'in, and the victim dials out, during the stall',
          pass,
          recoveryMs: Math.round(legit.ms),
          figures: {
            nofile,
            stallsOpened: count,
            closedByDeadline: s.onTime,
            closedAtOnce: s.early,
            leftOpen: s.open,
            maxLateMs: s.maxLateMs,
            maxAcceptQueueMs: s.maxQueuedMs,
            legitimateConnectOk: legit.ok,
            legitimateConnectMs: Math.round(legit.ms),
            victimDialOk: dial.ok === true,
            victimDialMs: Math.round(dial.ms),
            victimPendingDuringStall: during.pending,
            victimFdsDuringStall: fdsDuringStall,
            victimMaxFds: maxFds,
            victimAccepted: stats.accepted,
            victimRefused: refused,
            victimRefusedPerSource: stats.refused.perSource,
            victimRefusedTotal: stats.refused.total,
            victimRefusedFdBudget: stats.refused.fdBudget,
            victimEvicted: stats.evicted,
            victimTimedOutPreamble: stats.timedOut.preamble,
            victimTimedOutHandshake: stats.timedOut.handshake,
          },
        },
      ]
    } finally {
      clearInterval(sampler)
      await victim.stop()
      await peer.stop()
      await inbound
    }
  },
}

export default [stalls, fdExhaustion] satisfies Scenario[]
