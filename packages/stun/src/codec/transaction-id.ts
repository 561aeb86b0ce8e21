import { randomBytes } from 'node:crypto'
import { TRANSACTION_ID_LENGTH } from '../constants.js'

/**
 * A fresh 96-bit transaction id from the CSPRNG. Responses are matched on it, so it must not
 * be guessable by an off-path attacker (P2PD used the non-cryptographic `random` module).
 */
export function newTransactionId(): Buffer {
  return randomBytes(TRANSACTION_ID_LENGTH)
}

/** Hex form of a transaction id, used as a map key. */
export function transactionKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')
}
