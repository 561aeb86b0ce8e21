import { createHash } from 'node:crypto'

/**
 * The broker offsets `0 … count−1` in an order fixed by the node ID (a Fisher–Yates shuffle
 * driven by SHA-256 of the node ID), so that a restarted node lands on the same brokers and
 * different nodes spread over the list — what P2PD does with its `dhash`.
 */
export function brokerOrder(nodeId: string, count: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i)
  let seed = createHash('sha256').update(`p2pd/v1/brokers/${nodeId}`).digest()
  let at = 0
  const nextWord = (): number => {
    if (at + 4 > seed.length) {
      seed = createHash('sha256').update(seed).digest()
      at = 0
    }
    const word = seed.readUInt32BE(at)
    at += 4
    return word
  }
  for (let i = count - 1; i > 0; i--) {
    const j = nextWord() % (i + 1)
    ;[order[i], order[j]] = [order[j] as number, order[i] as number]
  }
  return order
}
