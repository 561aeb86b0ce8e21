import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isRoot, Lab, type LabPeer, runInNamespace } from '../../../tools/natlab/src/index.js'

/**
 * Every client against a real gateway: Debian's miniupnpd 2.3.1 (UPnP IGD, NAT-PMP, PCP) in
 * a lab router doing port-restricted NAT with dropped SYNs. The host behind it finds the
 * gateway in its routing table, maps a listening port, a host on the lab internet connects to
 * the granted address, and after the release the same connection is dropped again. Root only
 * (network namespaces, nftables); in CI it must run.
 */
const root = isRoot()
const ci = process.env.CI === 'true'
if (!root && !ci) console.warn('miniupnpd lab test skipped: needs root (network namespaces)')

describe.runIf(!root && ci)('port mapping against miniupnpd, in CI', () => {
  it('runs as root', () => expect.fail('CI=true but not root: the miniupnpd lab test cannot run'))
})

const AGENT = new URL('./helpers/portmap-agent.ts', import.meta.url).pathname

/** Starts the agent; resolves each printed line in turn. */
function agent(ns: string, args: string[]) {
  const child: ChildProcess = runInNamespace(ns, AGENT, args)
  const lines: Record<string, unknown>[] = []
  const waiters: ((v: Record<string, unknown>) => void)[] = []
  let buf = ''
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString()
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>
      buf = buf.slice(nl + 1)
      const w = waiters.shift()
      if (w) w(line)
      else lines.push(line)
    }
  })
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const ready = lines.shift()
      if (ready) return resolve(ready)
      waiters.push(resolve)
      child.once('exit', () => setTimeout(() => reject(new Error(`agent exited: ${err}`)), 50))
    })
  return { child, next, send: (line: string) => child.stdin?.write(`${line}\n`) }
}

describe.skipIf(!root)('port mapping against miniupnpd in the NAT lab', () => {
  let lab: Lab | undefined
  let peer: LabPeer

  beforeAll(async () => {
    lab = await Lab.up({ peers: ['port-restricted-drop+portmap'] })
    peer = lab.info.peers[0] as LabPeer
  }, 90_000)
  afterAll(() => lab?.down(), 60_000)

  const dial = (port: number) =>
    agent(lab!.info.internetNs, ['dial', peer.publicIp, String(port)]).next()

  for (const [method, port] of [
    ['pcp', 4101],
    ['nat-pmp', 4102],
    ['upnp', 4103],
  ] as const) {
    it(`${method}: maps through the real gateway, is reachable, and is closed again on release`, async () => {
      expect((await dial(port)).ok, 'port reachable before any mapping').toBe(false)
      const a = agent(peer.ns.host, ['map', method, String(port)])
      const mapped = await a.next()
      expect(mapped, JSON.stringify(mapped)).toMatchObject({
        ok: true,
        grant: {
          method,
          protocol: 'tcp',
          gateway: peer.portmap?.gateway,
          internalAddress: peer.hostIp,
          internalPort: port,
          externalAddress: peer.publicIp,
          externalPort: port,
        },
      })
      expect(await dial(port)).toEqual({ ok: true, data: 'hi' })
      a.send('release')
      expect(await a.next()).toEqual({ ok: true, released: true })
      expect((await dial(port)).ok, 'port reachable after release').toBe(false)
      a.child.stdin?.end()
    }, 30_000)
  }
})
