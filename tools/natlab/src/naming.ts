import { randomBytes } from 'node:crypto'

/** Every lab name starts with `p2l`, six lowercase letters/digits, then `-`. */
export const PREFIX_PATTERN = /^p2l[a-z0-9]{6}-$/
/** Matches a namespace name this tool could have created; group 1 is the run prefix. */
export const NAMESPACE_PATTERN = /^(p2l[a-z0-9]{6}-)[a-z0-9]+$/

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

/** A fresh run prefix such as `p2lq7x0ka-` (36^6 ≈ 2·10^9 values: collisions are not a concern). */
export function newRunPrefix(): string {
  const bytes = randomBytes(6)
  let s = 'p2l'
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length]
  return `${s}-`
}

export function isRunPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix)
}

/** The run prefix of a namespace name, or undefined if the name is not one of ours. */
export function prefixOfNamespace(name: string): string | undefined {
  return NAMESPACE_PATTERN.exec(name)?.[1]
}

/** Peer labels: A, B, … Z, then A1 … (as many as a matrix needs). */
export function peerLabel(index: number): string {
  const letter = String.fromCharCode(65 + (index % 26))
  const round = Math.floor(index / 26)
  return round === 0 ? letter : `${letter}${round}`
}

/** The namespace names of one run. Kept short: names show up in `ip netns list` and `ps`. */
export const nsName = {
  internet: (prefix: string) => `${prefix}inet`,
  router: (prefix: string, peer: string) => `${prefix}r${peer.toLowerCase()}`,
  cgnat: (prefix: string, peer: string) => `${prefix}c${peer.toLowerCase()}`,
  host: (prefix: string, peer: string) => `${prefix}h${peer.toLowerCase()}`,
  host2: (prefix: string, peer: string) => `${prefix}h${peer.toLowerCase()}x2`,
  /** Holds a peer's delay line: no addresses, so nothing in it can answer ARP or IP. */
  wire: (prefix: string, peer: string) => `${prefix}w${peer.toLowerCase()}`,
}
