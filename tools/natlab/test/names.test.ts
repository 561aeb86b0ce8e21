import type { ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { defaultServers, p2pdServers } from '../src/index.js'
import { jsonLines, stopChild } from '../src/node-in-ns.js'
import { runBundled } from './bundle.js'
import { labSuite, useLab } from './lab-gate.js'

/**
 * A connect by name between two NATed namespaces (root): Bob, behind a port-restricted NAT,
 * publishes `bob.<fingerprint>` on the lab's mosquitto; Alice, behind a full-cone NAT, calls
 * `node.connect(name)` and exchanges a nonce with him over the authenticated pipe.
 */
const labDescribe = labSuite('names lab test')

const peerScript = join(dirname(fileURLToPath(import.meta.url)), 'names-peer.ts')

/** The first JSON line of `child` with this `type`, or a failure after `ms`. */
function message(child: ChildProcess, type: string, ms: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr?.on('data', (d: Buffer) => {
      if (err.length < 4000) err += d.toString()
    })
    const timer = setTimeout(() => reject(new Error(`no ${type} in ${ms} ms: ${err}`)), ms)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited (${code}) before ${type}: ${err}`))
    })
    jsonLines(child, (msg) => {
      if (msg.type !== type) return
      clearTimeout(timer)
      resolve(msg)
    })
  })
}

labDescribe('names in the NAT lab', () => {
  const children: ChildProcess[] = []
  const lab = useLab(
    {
      peers: ['port-restricted-rst', 'full-cone-rst'],
      shape: { upMs: 25, downMs: 25 },
      servers: [...defaultServers(), ...p2pdServers()],
    },
    { beforeDown: () => Promise.all(children.map((c) => stopChild(c))).then(() => {}) },
  )

  it('node.connect("bob.<fingerprint>") reaches Bob through both NATs', async () => {
    const [bobPeer, alicePeer] = lab.info.peers
    const env = { NAMES_LAB_SERVERS: JSON.stringify(lab.info.servers) }
    const bob = await runBundled(bobPeer!.ns.host, peerScript, ['bob'], env)
    children.push(bob)
    const ready = await message(bob, 'ready', 60_000)
    expect(ready.name).toMatch(/^bob\.[a-z2-7]{16}$/)
    const alice = await runBundled(
      alicePeer!.ns.host,
      peerScript,
      ['alice', String(ready.name)],
      env,
    )
    children.push(alice)
    const result = await message(alice, 'result', 60_000)
    expect(result.ok, JSON.stringify(result)).toBe(true)
    expect(result.peer).toBe(ready.nodeId)
    console.log(`names lab: connected by name via ${result.strategy} in ${result.ms} ms`)
  }, 150_000)
})
