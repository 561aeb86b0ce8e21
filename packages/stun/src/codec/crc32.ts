import * as zlib from 'node:zlib'

type Crc32 = (data: Uint8Array, value?: number) => number

// zlib.crc32 exists from Node 20.15 / 22.2; older typings may not declare it.
const native = (zlib as unknown as { crc32?: Crc32 }).crc32

let table: Uint32Array | undefined

function fallback(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (const byte of data) crc = (table[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** CRC-32 (ISO-HDLC, as FINGERPRINT uses): native zlib when available. */
export function crc32(data: Uint8Array): number {
  return native ? native(data) >>> 0 : fallback(data)
}
