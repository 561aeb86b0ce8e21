import { createHash, createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'

/**
 * P2PD's machine ID: HMAC-SHA256(key "p2pd", OS machine id), 64 hex chars. Two nodes on one
 * machine share it, which is how "same machine" is detected. Falls back to a hash of the
 * host name when the OS has no machine id file.
 */
export function machineId(): string {
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(file, 'utf8').replace(/\s/g, '')
      if (id) return createHmac('sha256', 'p2pd').update(id).digest('hex')
    } catch {}
  }
  return createHash('sha256').update(`p2pd ${hostname()}`).digest('hex')
}
