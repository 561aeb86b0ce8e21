import { networkInterfaces } from 'node:os'

/** Every address of every local interface: what counts as "ours" for a wildcard socket. */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((a) => a.address)
}

/** The wildcard address of a family. */
export function anyAddress(family: 4 | 6): string {
  return family === 6 ? '::' : '0.0.0.0'
}
