/** Longest legacy (non-key) node ID token. */
export const MAX_LEGACY_NODE_ID_LENGTH = 64

/** Longest machine ID token (P2PD emits 64 hex chars). */
export const MAX_MACHINE_ID_LENGTH = 128

/**
 * What a node ID is:
 * - `'key'`: a compressed secp256k1 public key, 66 lowercase hex chars starting `02`/`03`
 *   (p2pd's IDs; a handshake can prove them).
 * - `'legacy'`: any other token of 1–64 `[A-Za-z0-9_.]` chars — P2PD's 25-hex hash IDs and the
 *   docs' illustrative ones (`zmUGXPOFxUBuToh`). Nothing can prove who owns them.
 *
 * The two never overlap (66 chars vs ≤ 64), so the kind is a property of the text alone.
 */
export type NodeIdKind = 'key' | 'legacy'

const KEY_ID = /^0[23][0-9a-f]{64}$/
const TOKEN = /^[A-Za-z0-9_.]+$/

/**
 * The kind of a node ID, or `undefined` when it is not one. Only the format is checked here;
 * that a `'key'` ID is a point on the curve is checked when the peer proves it owns it.
 */
export function nodeIdKind(id: unknown): NodeIdKind | undefined {
  if (typeof id !== 'string') return undefined
  if (id.length === 66 && KEY_ID.test(id)) return 'key'
  return id.length <= MAX_LEGACY_NODE_ID_LENGTH && TOKEN.test(id) ? 'legacy' : undefined
}

/** True for a machine ID: 1–128 chars of `[A-Za-z0-9_.]` (P2PD emits 64 lowercase hex). */
export function isMachineId(id: unknown): id is string {
  return typeof id === 'string' && id.length <= MAX_MACHINE_ID_LENGTH && TOKEN.test(id)
}
