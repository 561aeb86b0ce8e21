import { hash } from 'node:crypto'
import { abortReason } from '@p2pd/interface'
import { stampWorker } from './stamp-worker.js'

/** Name of the MQTT 5 user property that carries a proof-of-work stamp. */
export const POW_PROPERTY = 'p2pd-pow'

/** Default difficulty: leading zero bits of the stamp hash (≈ 65,000 hashes to mint). */
export const DEFAULT_POW_BITS = 16

/** The most difficulty we accept as a setting (2^28 hashes is minutes of CPU). */
export const MAX_POW_BITS = 28

const DOMAIN = Buffer.from('p2pd/v1/signal/pow')
const NONCE_BYTES = 8
const NONCE_HEX = /^[0-9a-f]{16}$/
/** Hashes between clock reads while minting. */
const BATCH_HASHES = 512
/** Minting time per event-loop turn, all stamps together: timers and sockets keep running. */
const TURN_MS = 4

/** `domain ‖ envelope digest ‖ nonce`, with room for the nonce at the end. */
function stampInput(digest: Uint8Array): Buffer {
  const input = Buffer.alloc(DOMAIN.length + digest.length + NONCE_BYTES)
  DOMAIN.copy(input)
  input.set(digest, DOMAIN.length)
  return input
}

/** Leading zero bits of `bytes`. */
export function leadingZeroBits(bytes: Uint8Array): number {
  let bits = 0
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8
      continue
    }
    return bits + Math.clz32(byte) - 24
  }
  return bits
}

/**
 * Checks a stamp (16 hex: an 8-byte nonce) against the SHA-256 digest of the envelope it came
 * with: one hash. True when `SHA-256(domain ‖ digest ‖ nonce)` has at least `bits` leading
 * zero bits. The digest covers the whole envelope (its fresh ephemeral key included), so a
 * stamp is worth one envelope only.
 */
export function verifyStamp(digest: Uint8Array, stamp: string | undefined, bits: number): boolean {
  if (bits <= 0 || stamp === undefined || !NONCE_HEX.test(stamp)) return false
  const input = stampInput(digest)
  input.write(stamp, input.length - NONCE_BYTES, 'hex')
  return leadingZeroBits(hash('sha256', input, 'buffer')) >= bits
}

/** Tries nonces `from`, `from + 1`… for at most `count` hashes; the stamp found, or undefined. */
function search(input: Buffer, bits: number, from: number, count: number): string | undefined {
  const at = input.length - NONCE_BYTES
  for (let n = from; n < from + count; n++) {
    input.writeUInt32BE(Math.floor(n / 2 ** 32), at)
    input.writeUInt32BE(n >>> 0, at + 4)
    if (leadingZeroBits(hash('sha256', input, 'buffer')) >= bits) {
      return input.subarray(at).toString('hex')
    }
  }
  return undefined
}

/** Mints a stamp for `digest` at once (blocks: ≈ 2^bits hashes). For tests and tools. */
export function mintStampSync(digest: Uint8Array, bits: number): string {
  const input = stampInput(digest)
  for (let from = 0; ; from += BATCH_HASHES) {
    const found = search(input, bits, from, BATCH_HASHES)
    if (found) return found
  }
}

interface MintJob {
  readonly input: Buffer
  readonly bits: number
  next: number
  readonly signal: AbortSignal | undefined
  readonly resolve: (stamp: string) => void
  readonly reject: (err: Error) => void
}

// One queue for the whole process: however many stamps are wanted at once, minting takes at
// most TURN_MS per event-loop turn (the oldest first, so it finishes soonest).
const jobs: MintJob[] = []
let pumping = false

function pump(): void {
  const started = performance.now()
  while (jobs.length > 0 && performance.now() - started < TURN_MS) {
    const job = jobs[0] as MintJob
    const found = search(job.input, job.bits, job.next, BATCH_HASHES)
    job.next += BATCH_HASHES
    if (found) {
      jobs.shift()
      job.resolve(found)
    }
  }
  for (let k = jobs.length - 1; k >= 0; k--) {
    const job = jobs[k] as MintJob
    if (job.signal?.aborted) {
      jobs.splice(k, 1)
      job.reject(abortReason(job.signal))
    }
  }
  pumping = jobs.length > 0
  if (pumping) setImmediate(pump)
}

/** Mints on this thread, in slices of at most TURN_MS per event-loop turn. */
function mintHere(input: Buffer, bits: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    jobs.push({ input, bits, next: 0, signal, resolve, reject })
    if (!pumping) {
      pumping = true
      setImmediate(pump)
    }
  })
}

/**
 * Mints a stamp for `digest` (≈ 2^bits hashes, tens of ms at the default) off the event loop:
 * in the process's stamp worker thread, or — when a worker cannot run — here, in slices of a
 * few ms per event-loop turn for all mints together. Rejects with the signal's reason when it
 * aborts (the worker abandons the job).
 */
export async function mintStamp(
  digest: Uint8Array,
  bits: number,
  signal?: AbortSignal,
): Promise<string> {
  if (signal?.aborted) throw abortReason(signal)
  const input = stampInput(digest)
  const cancel = new SharedArrayBuffer(4)
  const minted = stampWorker.mint(input, bits, cancel).catch(() => mintHere(input, bits, signal))
  if (!signal) return minted.then((stamp) => stamp as string)
  const aborted = signal
  return new Promise<string>((resolve, reject) => {
    // Rejects at once; the worker drops the job at its next check of the flag.
    const onAbort = () => {
      Atomics.store(new Int32Array(cancel), 0, 1)
      reject(abortReason(aborted))
    }
    aborted.addEventListener('abort', onAbort, { once: true })
    minted
      .then((stamp) => (stamp === undefined ? onAbort() : resolve(stamp)), reject)
      .finally(() => aborted.removeEventListener('abort', onAbort))
  })
}

/** Mints on this thread only, in slices (for tests, and where no worker can run). */
export function mintStampInThread(
  digest: Uint8Array,
  bits: number,
  signal?: AbortSignal,
): Promise<string> {
  if (signal?.aborted) return Promise.reject(abortReason(signal))
  return mintHere(stampInput(digest), bits, signal)
}
