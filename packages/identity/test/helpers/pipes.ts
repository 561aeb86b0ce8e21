import type { Duplex } from 'node:stream'
import { afterEach } from 'vitest'
import { generateIdentity, type SecurePipe, secureChannel } from '../../src/index.js'

/**
 * Secure pipe pairs for a test file: `pipes(a, b)` runs the handshake over two connected
 * streams (Alice initiates), and every pipe made, plus whatever `cleanups` holds, is destroyed
 * after each test.
 */
export function useSecurePipes() {
  const alice = generateIdentity()
  const bob = generateIdentity()
  const cleanups: (() => void)[] = []
  afterEach(() => {
    for (const c of cleanups.splice(0)) c()
  })
  async function pipes(a: Duplex, b: Duplex): Promise<[SecurePipe, SecurePipe]> {
    const [pa, pb] = await Promise.all([
      secureChannel(a, { identity: alice, expectedPeer: bob.nodeId, initiator: true }),
      secureChannel(b, { identity: bob, expectedPeer: alice.nodeId, initiator: false }),
    ])
    cleanups.push(
      () => pa.destroy(),
      () => pb.destroy(),
    )
    return [pa, pb]
  }
  return { pipes, cleanups }
}
