import { readFileSync } from 'node:fs'
import type { NoiseCipher } from './noise/cipher-state.js'

let cached: readonly NoiseCipher[] | undefined

/** True when the CPU has AES instructions (x86 `aes` flag, Arm `aes` feature). */
function cpuHasAes(): boolean {
  if (process.platform === 'linux') {
    try {
      return /^(flags|features)\s*:.*\baes\b/im.test(readFileSync('/proc/cpuinfo', 'latin1'))
    } catch {
      return false
    }
  }
  // No cpuinfo to read: x86-64 and arm64 machines have had AES instructions for a decade
  // (Apple silicon, Westmere+, Zen); anything else gets the cipher that is fast in software.
  return process.arch === 'x64' || process.arch === 'arm64'
}

/**
 * The ciphers this process offers, most preferred first: ChaCha20-Poly1305, then AES-256-GCM
 * where the CPU has AES instructions (without them AES is slow and leaks through cache timing).
 * ChaCha comes first because AES-GCM, though ~25 % faster per frame in node:crypto here, did
 * not make the pipe measurably faster end to end (see the README's Speed section); an
 * initiator that wants AES-GCM asks for it with `ciphers`.
 */
export function defaultCiphers(): readonly NoiseCipher[] {
  cached ??= cpuHasAes() ? ['ChaChaPoly', 'AESGCM'] : ['ChaChaPoly']
  return cached
}
