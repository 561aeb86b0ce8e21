import { randomBytes } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { DaemonError } from './errors.js'

/** What a token looks like: 16–256 printable, space-free ASCII characters. */
const TOKEN = /^[\x21-\x7e]{16,256}$/

/**
 * Reads the bearer token from `path`, or on first use creates it: 32 random bytes in hex,
 * written with mode 0600 (in a directory created 0700). A file that exists but holds no valid
 * token, or that others may read, is refused with `DAEMON_TOKEN_FILE`.
 */
export async function loadOrCreateToken(path: string): Promise<string> {
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DaemonError('DAEMON_TOKEN_FILE', `cannot read ${path}: ${(err as Error).message}`)
    }
  }
  if (text !== undefined) {
    const token = text.trim()
    if (!TOKEN.test(token)) {
      throw new DaemonError(
        'DAEMON_TOKEN_FILE',
        `${path} does not hold a token (16–256 characters)`,
      )
    }
    if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0) {
      throw new DaemonError('DAEMON_TOKEN_FILE', `${path} is readable by others: chmod 600 it`)
    }
    return token
  }
  const token = randomBytes(32).toString('hex')
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err) => {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return
    throw new DaemonError('DAEMON_TOKEN_FILE', `cannot write ${path}: ${(err as Error).message}`)
  })
  return (await readFile(path, 'utf8')).trim()
}
