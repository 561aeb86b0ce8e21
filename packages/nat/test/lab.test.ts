import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DeltaType, NatType } from '@p2pd/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  coturnServer,
  expectedBehaviour,
  isRoot,
  Lab,
  type LabPeer,
  runInNamespace,
} from '../../../tools/natlab/src/index.js'

// Lab validation (issue item 5): inside each lab host namespace, the classifier's verdict
// must match the profile's ground truth over UDP and TCP, and the first predicted port must
// be the next mapping. Root only: skipped with a reason outside CI, a failure in CI.
const PROFILES = [
  'open-drop',
  'open-rst',
  'full-cone-drop',
  'restricted-drop',
  'port-restricted-drop',
  'port-restricted-rst+hairpin',
  'eim-range-drop',
  'sym-seq1-drop',
  'sym-seq2-rst',
  'sym-random-drop',
] as const

const canRun = isRoot() || process.env.CI === 'true'
if (!canRun) console.warn('nat lab tests skipped: the NAT lab needs root on Linux (CI runs them)')
it.skipIf(canRun)('NAT lab skipped: it needs root on Linux (CI runs it)', () => {})

// biome-ignore lint/suspicious/noExplicitAny: JSON from the child
type Report = any
const script = fileURLToPath(new URL('./lab-classify.ts', import.meta.url))

function classifyIn(peer: LabPeer, server: string, alt: string): Promise<Report> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = runInNamespace(peer.ns.host, script, [
      '--server',
      server,
      '--alt',
      alt,
    ])
    let out = ''
    let err = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000)
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString()
    })
    child.stderr?.on('data', (b: Buffer) => {
      err = (err + b.toString()).slice(-2000)
    })
    child.once('exit', () => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (!line) return reject(new Error(`no report from ${peer.label}: ${err}`))
      resolve(JSON.parse(line))
    })
  })
}

describe.runIf(canRun)('NAT lab: classification matches every profile', () => {
  let lab: Lab
  const reports = new Map<string, Report>()

  beforeAll(async () => {
    lab = await Lab.up({ peers: [...PROFILES], servers: [coturnServer()] })
    const coturn = lab.info.servers.coturn as Record<string, { host: string; port: number }>
    const server = `${coturn.stun!.host}:${coturn.stun!.port}`
    const alt = `${coturn.stunAlt!.host}:${coturn.stunAlt!.port}`
    const results = await Promise.all(lab.info.peers.map((p) => classifyIn(p, server, alt)))
    lab.info.peers.forEach((p, i) => {
      reports.set(p.profile.name, results[i])
    })
    console.log([...reports].map(([name, r]) => `${name}: ${JSON.stringify(r)}`).join('\n'))
  }, 150_000)

  afterAll(async () => {
    await lab?.down()
  }, 30_000)

  const expectedType = (mapping: string, filtering: string) =>
    mapping === 'none'
      ? NatType.OpenInternet
      : mapping !== 'EIM'
        ? NatType.Symmetric
        : (
            {
              EIF: NatType.FullCone,
              ADF: NatType.RestrictedCone,
              APDF: NatType.PortRestrictedCone,
            } as Record<string, number>
          )[filtering]

  for (const name of PROFILES) {
    it(name, () => {
      const peer = lab.info.peers.find((p) => p.profile.name === name) as LabPeer
      const truth = expectedBehaviour(peer.profile)
      const r = reports.get(peer.profile.name)
      expect(r?.ok, JSON.stringify(r)).toBe(true)
      for (const t of ['udp', 'tcp'] as const) {
        const got = r[t]
        const want = truth[t]
        expect(got.mapping, `${t} mapping`).toBe(want.mapping)
        expect(got.filtering, `${t} filtering`).toBe(
          want.mapping === 'none' && t === 'udp' ? 'EIF' : want.filtering,
        )
        expect(got.natInfo.type, `${t} type`).toBe(expectedType(want.mapping, want.filtering))
        const delta = got.natInfo.delta
        if (want.ports === 'none') expect(delta.type).toBe(DeltaType.NotApplicable)
        else if (want.ports === 'preserving') {
          expect(got.preserving).toBe(true)
          expect(delta.type).toBe(DeltaType.Equal)
        } else if (want.ports === 'non-preserving') expect(got.preserving).toBe(false)
        else if (want.ports.startsWith('seq')) {
          expect(delta, `${t} delta`).toEqual({
            type: DeltaType.Independent,
            value: Number(want.ports.slice(4)),
          })
        } else expect(delta.type, `${t} delta`).toBe(DeltaType.Random)
        // A wall-clock bound, so a hang guard rather than a speed claim: a loaded CI box
        // deschedules the classifier for seconds (the quick figure is in the bench and README).
        expect(got.timings.totalMs, `${t} wall time`).toBeLessThan(10_000)
        // Prediction: the first candidate is the next mapping (random NATs have none).
        const pr = r.prediction[t]
        if (want.ports === 'random') expect(pr.tested).toBe(false)
        else expect(pr, `${t} prediction`).toMatchObject({ tested: true, hit: true })
      }
      expect(r.natInfo.type).toBe(expectedType(truth.tcp.mapping, truth.tcp.filtering))
      expect(r.external).toMatchObject({ ip: peer.publicIp, agreed: true, public: true })
    })
  }
})
