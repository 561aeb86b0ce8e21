import { expect } from 'vitest'
import { AddressError, type AddressErrorCode } from '../src/index.js'

/** Runs `fn`, expects an AddressError with `code`, and returns it for further checks. */
export function expectAddressError(fn: () => unknown, code: AddressErrorCode): AddressError {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  expect(caught, 'expected an AddressError').toBeInstanceOf(AddressError)
  const err = caught as AddressError
  expect(err.code, err.message).toBe(code)
  return err
}

/** A compressed secp256k1 public key (secret key 0x11×32). */
export const KEY_ID = '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa'

/** A valid IPv4 interface item with one field replaced (by index 0–7). */
export function item4(replace: Record<number, string> = {}): string {
  const fields = ['1', '0', '8.8.8.8', '10.0.0.1', '10001', '1', '2', '0']
  for (const [i, v] of Object.entries(replace)) fields[Number(i)] = v
  return `[${fields.join(',')}]`
}

/**
 * CPU time (user + system) the process spends in `work`, in ms. Unlike wall time, a loaded
 * machine that deschedules the process does not inflate it: it is the cost being bounded.
 */
export function cpuMs(work: () => void): number {
  const t0 = process.cpuUsage()
  work()
  const d = process.cpuUsage(t0)
  return (d.user + d.system) / 1000
}
