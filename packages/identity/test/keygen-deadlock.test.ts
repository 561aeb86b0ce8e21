import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const dh = fileURLToPath(new URL('../src/noise/dh.ts', import.meta.url))

// Node frees a key-generation job from a garbage-collector callback that locks the key's mutex,
// and `KeyObject.export()` holds that mutex while it allocates. Generating a key and exporting
// its public half, as every handshake did, deadlocked the process whenever a collection fell
// inside the export. The child allocates short-lived strings between keys, as a busy node
// does, so collections come often: with the old key generation this loop hung in 5 of 9 runs
// (a catch rate, not a certainty: it is a race). It runs in a child because a deadlocked main
// thread cannot be interrupted.
const KEYS = 40_000
const script = `
  import { generateX25519 } from ${JSON.stringify(dh)}
  let keys = 0
  let junk = []
  for (let i = 0; i < ${KEYS}; i++) {
    if (generateX25519().publicRaw.length === 32) keys++
    for (let j = 0; j < 8; j++) junk.push(i + ':' + j)
    if (junk.length > 512) junk = []
  }
  console.log('keys', keys)
`

it(`generates ${KEYS.toLocaleString('en')} X25519 key pairs without deadlocking`, async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 45_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err) {
          const hung = err.killed ? ' (killed at the 45 s deadline: deadlocked)' : ''
          reject(new Error(`key generation child failed${hung}: ${stderr || err.message}`))
        } else resolve(stdout)
      },
    )
  })
  expect(out.trim()).toBe(`keys ${KEYS}`)
}, 60_000)
