import { expect, it } from 'vitest'
import {
  defaultServers,
  expectedBehaviour,
  type LabPeer,
  p2pdServers,
  runTrial,
  type TrialResult,
} from '../src/index.js'
import { srcFile } from '../src/node-in-ns.js'
import { runBundled } from './bundle.js'
import { labSuite, nodeRunner, useLab } from './lab-gate.js'

/**
 * Our own servers and a real p2pd node in the NAT lab (root; 25 ms one-way per router uplink):
 * `@p2pd/stun` classifies NATs as coturn does, `node-turn` connects whatever the NATs, and
 * `node-auto` (direct → reverse → punch → turn) wins with a direct strategy wherever one can
 * work. One shared lab, cells in parallel on disjoint peers. Trials per cell:
 * `P2PD_LAB_TRIALS` (default 2); the full run is `pnpm lab matrix --strategies node-auto …`.
 */
const labDescribe = labSuite('p2pd lab tests')

const trials = Number(process.env.P2PD_LAB_TRIALS ?? 2)

// Peers, by index; cells of one phase use disjoint peers and run in parallel.
const PEERS = [
  'sym-random-drop', // 0
  'sym-random-rst', // 1
  'port-restricted-rst', // 2
  'sym-random-drop', // 3
  'sym-seq1-rst', // 4
  'port-restricted-rst', // 5
  'open-drop', // 6
  'open-drop', // 7
  'port-restricted-drop', // 8
  'full-cone-rst', // 9
  'sym-random-drop+portmap', // 10
  'sym-random-rst', // 11
  'port-restricted-drop', // 12
  'sym-random-rst+portmap', // 13
] as const

labDescribe('p2pd in the NAT lab', () => {
  const lab = useLab({
    peers: [...PEERS],
    shape: { upMs: 25, downMs: 25 },
    servers: [...defaultServers(), ...p2pdServers()],
  })
  const { peer } = lab

  /** Runs `trials` trials per cell, cells in parallel. */
  async function cells(
    runner: 'node-turn' | 'node-auto',
    pairs: readonly (readonly [number, number])[],
  ): Promise<{ a: string; b: string; runs: TrialResult[] }[]> {
    return Promise.all(
      pairs.map(async ([i, j]) => {
        const r = await nodeRunner(runner)
        const runs: TrialResult[] = []
        for (let t = 0; t < trials; t++) runs.push(await runTrial(lab.info, r, peer(i), peer(j)))
        return { a: peer(i).profile.name, b: peer(j).profile.name, runs }
      }),
    )
  }

  // biome-ignore lint/suspicious/noExplicitAny: runner detail is loosely typed JSON
  const stagesOf = (r: TrialResult) => (r.a.result?.detail as any)?.report?.stages
  const why = (runs: TrialResult[]) =>
    runs
      .map((r) =>
        r.ok
          ? `ok ${r.winningStrategy} ${r.path}`
          : `${r.failureReason} ${JSON.stringify(stagesOf(r))} ${r.a.protocolError ?? ''} ${r.b.protocolError ?? ''} ${r.a.stderr ?? ''} ${r.b.stderr ?? ''}`,
      )
      .join(' | ')

  it('@p2pd/stun classifies the lab NATs exactly as coturn does', async () => {
    const probe = async (p: LabPeer, server: { host: string; port: number }) => {
      const child = await runBundled(p.ns.host, srcFile('p2pd-nat-probe.ts'), [
        p.hostIp,
        `${server.host}:${server.port}`,
      ])
      return new Promise<Record<string, unknown>>((resolve, reject) => {
        let out = ''
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString()
        })
        child.once('exit', () => {
          try {
            resolve(JSON.parse(out.trim().split('\n').pop() as string))
          } catch {
            reject(new Error(`no verdict from ${p.profile.name}: ${out}`))
          }
        })
      })
    }
    // biome-ignore lint/suspicious/noExplicitAny: probe output is JSON
    const verdict = (r: any) =>
      r.ok
        ? ['udp', 'tcp'].map(
            (t) =>
              `${t} ${r[t].mapping}/${r[t].filtering}/${r[t].preserving} type ${r[t].natInfo.type} delta ${r[t].natInfo.delta.type}`,
          )
        : r.error
    const servers = lab.info.servers
    const ours = servers['p2pd-stun']!.stun!
    const coturn = servers.coturn!.stun!
    const picks = [6, 2, 8, 4, 0, 9] // open, port-restricted, seq+1 and random symmetric, full cone
    // One server after the other per peer: a sequential NAT's port counter is shared, so two
    // discoveries at once through one router would disturb each other's delta.
    const got = await Promise.all(
      picks.map(async (i) => [await probe(peer(i), ours), await probe(peer(i), coturn)] as const),
    )
    got.forEach(([a, b], k) => {
      const profile = peer(picks[k] as number).profile
      const name = profile.name
      expect(a.ok, `${name}: ${JSON.stringify(a)}`).toBe(true)
      expect(verdict(a), name).toEqual(verdict(b))
      // TCP filtering is measured by our server's dial-backs (coturn's is copied from UDP),
      // and the SYN policy tells the -drop and -rst profiles apart.
      // biome-ignore lint/suspicious/noExplicitAny: probe output is JSON
      const tcp = (a as any).tcp
      expect(tcp.filteringSource, `${name}: ${JSON.stringify(tcp)}`).toBe('measured')
      expect(tcp.filtering, name).toBe(expectedBehaviour(profile).tcp.filtering)
      expect(tcp.synPolicy, `${name}: ${JSON.stringify(tcp)}`).toBe(profile.syn)
    })
  }, 60_000)

  it('node-turn connects random×random, RST and cone pairs through our TURN server', async () => {
    const res = await cells('node-turn', [
      [0, 1], // sym-random-drop × sym-random-rst
      [2, 3], // port-restricted-rst × sym-random-drop
      [4, 5], // sym-seq1-rst × port-restricted-rst
      [9, 8], // full-cone-rst × port-restricted-drop
    ])
    for (const c of res) {
      for (const r of c.runs) {
        expect(r.ok, `${c.a} × ${c.b}: ${why(c.runs)}`).toBe(true)
        expect(r.winningStrategy).toBe('turn')
        expect(r.path).toBe('relayed')
        expect(r.direct).toBe(false)
      }
    }
  }, 120_000)

  it('node-auto wins directly where a direct strategy works, through TURN where none can', async () => {
    const res = await cells('node-auto', [
      [2, 6], // port-restricted-rst × open-drop → direct
      [7, 8], // open-drop × port-restricted-drop → reverse (only A is reachable)
      [5, 9], // port-restricted-rst × full-cone-rst → punch (verified direct)
      [1, 0], // sym-random-rst × sym-random-drop → turn
    ])
    const expected = ['direct', 'reverse', 'punch', 'turn']
    res.forEach((c, k) => {
      for (const r of c.runs) {
        expect(r.ok, `${c.a} × ${c.b}: ${why(c.runs)}`).toBe(true)
        expect(r.winningStrategy, `${c.a} × ${c.b}: ${why(c.runs)}`).toBe(expected[k])
        // The lab's own verdict: observed addresses and conntrack, not the runner's claim.
        expect(r.direct, `${c.a} × ${c.b}: ${why(c.runs)}`).toBe(expected[k] !== 'turn')
        expect(r.timeToConnectMs ?? Infinity).toBeLessThan(10_000)
      }
    })
  }, 150_000)

  it('port mapping (miniupnpd: PCP) makes a random-NAT peer reachable: reverse or direct, not TURN', async () => {
    const res = await cells('node-auto', [
      [10, 11], // sym-random-drop+portmap × sym-random-rst → reverse (only A is mapped)
      [12, 13], // port-restricted-drop × sym-random-rst+portmap → direct to B's mapping
    ])
    const expected = ['reverse', 'direct']
    res.forEach((c, k) => {
      for (const r of c.runs) {
        expect(r.ok, `${c.a} × ${c.b}: ${why(c.runs)}`).toBe(true)
        expect(r.winningStrategy, `${c.a} × ${c.b}: ${why(c.runs)}`).toBe(expected[k])
        expect(r.direct, `${c.a} × ${c.b}: ${why(c.runs)}`).toBe(true)
      }
    })
  }, 120_000)
})
