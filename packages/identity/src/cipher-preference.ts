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
 * The ciphers this process offers, most preferred first: AES-256-GCM first where the CPU has
 * AES instructions (through the whole pipe: +25 % bulk throughput and ~5 % less CPU per MB than
 * ChaCha20-Poly1305 on the dev VM; see the README's Speed section), else ChaCha20-Poly1305 only
 * (AES without hardware support is slow and leaks through cache timing).
 */
export function defaultCiphers(): readonly NoiseCipher[] {
  cached ??= cpuHasAes() ? ['AESGCM', 'ChaChaPoly'] : ['ChaChaPoly']
  return cached
}
