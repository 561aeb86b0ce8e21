import type { StunClass } from '../constants.js'

/**
 * The 14-bit message type interleaves the 12 method bits with the 2 class bits
 * (RFC 8489 §5): M11..M7 C1 M6..M4 C0 M3..M0. A plain OR is only right for methods ≤ 0xF.
 */
export function encodeMessageType(method: number, cls: StunClass): number {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | cls
}

/** Splits a message type into method and class. */
export function decodeMessageType(type: number): { method: number; cls: StunClass } {
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2)
  return { method, cls: (type & 0x0110) as StunClass }
}
