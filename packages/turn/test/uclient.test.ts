// coturn's own test client (`turnutils_uclient`, Debian `coturn`) against OUR server, with
// `turnutils_peer` as the echo peer. Missing binaries fail, never skip.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { requireBinary } from '@p2pd/testkit'
import { freePortPair } from '@p2pd/testkit/coturn'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TurnServer } from '../src/index.js'

const execFileP = promisify(execFile)

/** Runs turnutils_uclient under `timeout` (it can wait forever) and returns its output. */
async function uclient(args: string[]): Promise<string> {
  const bin = requireBinary('turnutils_uclient', 'coturn')
  try {
    const { stdout, stderr } = await execFileP('timeout', ['20', bin, ...args])
    return stdout + stderr
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number }
    throw new Error(`turnutils_uclient failed (${e.code}):\n${e.stdout}${e.stderr}`)
  }
}

function summary(out: string) {
  // The last progress line is the final count.
  const msgs = [...out.matchAll(/tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/g)].at(-1)
  const lost = /Total lost packets (\d+)/.exec(out)
  return {
    sent: Number(msgs?.[1] ?? -1),
    received: Number(msgs?.[2] ?? -1),
    lost: Number(lost?.[1] ?? -1),
  }
}

describe('turnutils_uclient against our TurnServer', () => {
  let server: TurnServer
  let peer: ChildProcess
  let peerPort: number

  beforeAll(async () => {
    server = new TurnServer({
      users: { p2pd: 'secret' },
      realm: 'p2pd.test',
      allowLoopbackPeers: true,
      maxAllocationsPerUser: 50,
    })
    await server.start()
    peerPort = await freePortPair(['127.0.0.1'])
    peer = spawn(
      requireBinary('turnutils_peer', 'coturn'),
      ['-L', '127.0.0.1', '-p', String(peerPort)],
      {
        stdio: 'ignore',
      },
    )
    await new Promise((r) => setTimeout(r, 300))
  })
  afterAll(async () => {
    if (peer?.exitCode === null) {
      const exited = new Promise((r) => peer.once('exit', r))
      peer.kill('SIGTERM')
      await exited
    }
    await server?.close()
  })

  it('channels, Send indications and client-to-client: every message echoed, 0 lost', async () => {
    const base = ['-u', 'p2pd', '-w', 'secret', '-p', String(server.address.port)]
    const toPeer = ['-e', '127.0.0.1', '-r', String(peerPort)]
    const common = ['-n', '10', '-m', '2', '-l', '100']
    const [channels, indications, c2c] = await Promise.all([
      uclient([...base, ...toPeer, ...common, '127.0.0.1']),
      uclient([...base, ...toPeer, '-s', ...common, '127.0.0.1']),
      uclient([...base, '-y', ...common, '127.0.0.1']),
    ])
    expect(summary(channels)).toEqual({ sent: 20, received: 20, lost: 0 })
    expect(summary(indications)).toEqual({ sent: 20, received: 20, lost: 0 })
    expect(summary(c2c)).toEqual({ sent: 40, received: 40, lost: 0 })
    expect(server.stats.relayedToPeers).toBeGreaterThanOrEqual(80)
  }, 30_000)
})
