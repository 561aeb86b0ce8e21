import { lstat, readdir } from 'node:fs/promises'
import { basename, join, posix } from 'node:path'
import { SessionError } from './framing.js'

export interface OfferedFile {
  /** Where it is read from on this machine. */
  readonly source: string
  /** Its name on the wire: relative, `/`-separated, starting with the offered name. */
  readonly path: string
  readonly size: number
}

/** The regular files under `root` (or `root` itself), symlinks skipped, in a stable order. */
export async function listOffered(root: string): Promise<OfferedFile[]> {
  const files: OfferedFile[] = []
  const walk = async (source: string, path: string) => {
    const st = await lstat(source)
    if (st.isFile()) files.push({ source, path, size: st.size })
    else if (st.isDirectory()) {
      for (const name of (await readdir(source)).sort()) {
        await walk(join(source, name), `${path}/${name}`)
      }
    }
  }
  await walk(root, basename(root))
  return files
}

/** Most path segments and characters a received name may have. */
const MAX_PATH = 4096
const MAX_DEPTH = 64

/**
 * Checks a name a peer sent: relative, `/`-separated, no `.`/`..`/empty segments, no
 * backslash or NUL. Returns its segments; anything else is refused, never "fixed".
 */
export function safeSegments(path: unknown): string[] {
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_PATH) {
    throw new SessionError('the sender offered a file with an invalid name')
  }
  const segments = path.split('/')
  if (
    posix.isAbsolute(path) ||
    segments.length > MAX_DEPTH ||
    segments.some((s) => s === '' || s === '.' || s === '..' || /[\\\0]/.test(s))
  ) {
    throw new SessionError(`the sender offered an unsafe file name: ${JSON.stringify(path)}`)
  }
  return segments
}
