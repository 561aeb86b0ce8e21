import { expect, it } from 'vitest'
import { defaultServers, p2pdServers, runTrial } from '../src/index.js'
import { labSuite, nodeRunner, useLab } from './lab-gate.js'

/**
 * TURN over IPv6 in the NAT lab (root; no delay line): two IPv6-only hosts behind stateful
 * firewalls that answer unsolicited inbound with a RST connect through our TURN server's IPv6
 * twin (`node-turn`), both relayed addresses on it. Two trials; at least one must connect
 * (a loaded machine may lose one to signaling), and every one that connects is relayed there.
 */
const labDescribe = labSuite('TURN-over-IPv6 lab tests')

/** Our TURN server's IPv6 twin in the lab (198.18.0.13 → 2001:db8::13). */
const TURN6 = '2001:db8::13'
const hostOf = (e: string | undefined) => (e ?? '').replace(/:\d+$/, '')

labDescribe('TURN over IPv6 in the NAT lab', () => {
  const lab = useLab({
    peers: ['fw6-rst', 'fw6-rst'],
    servers: [...defaultServers(), ...p2pdServers()],
  })

  it('fw6-rst × fw6-rst connects through TURN on the IPv6 twin', async () => {
    const runner = await nodeRunner('node-turn')
    const runs = []
    for (let t = 0; t < 2; t++)
      runs.push(await runTrial(lab.info, runner, lab.peer(0), lab.peer(1)))
    const ok = runs.filter((r) => r.ok)
    console.log(
      `turn6 lab: ${runs.map((r) => (r.ok ? `${r.path} ${r.a.result?.local} ⇄ ${r.a.result?.remote}` : `failed: ${r.failureReason}`)).join('; ')}`,
    )
    expect(ok.length).toBeGreaterThanOrEqual(1)
    for (const r of ok) {
      expect(r.winningStrategy).toBe('turn')
      expect(r.path).toBe('relayed')
      expect(hostOf(r.a.result?.local)).toBe(TURN6)
      expect(hostOf(r.a.result?.remote)).toBe(TURN6)
    }
  }, 90_000)
})
