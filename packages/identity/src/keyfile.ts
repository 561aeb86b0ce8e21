import { randomBytes } from 'node:crypto'
import { type FileHandle, link, mkdir, open, rename, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { throwIfAborted } from '@p2pd/interface'
import { fromHex, toHex } from './bytes.js'
import { IdentityError } from './errors.js'
import { generateIdentity, type Identity, identityFromSecret } from './keys.js'

/** The JSON written by {@link saveIdentity}. */
export interface KeyFileJson {
  readonly type: 'p2pd-identity'
  readonly version: 1
  /** Redundant with the secret; checked on load to catch a corrupted or hand-edited file. */
  readonly nodeId: string
  /** 32-byte secp256k1 secret key, 64 lowercase hex chars. */
  readonly secretKey: string
}

/** Options of the key-file functions. */
export interface KeyFileOptions {
  readonly signal?: AbortSignal
  /** {@link saveIdentity} replaces an existing file (default: refuse with `IDENTITY_KEYFILE_EXISTS`). */
  readonly overwrite?: boolean
}

/** Key files are tiny; anything bigger is not one. */
const MAX_KEYFILE_SIZE = 4096

const checksPermissions = process.platform !== 'win32'

function ioError(what: string, cause: unknown): IdentityError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  return new IdentityError('IDENTITY_KEYFILE_IO', `${what}${code ? ` (${code})` : ''}`, { cause })
}

/**
 * Writes `identity` to `path` as JSON ({@link KeyFileJson}), atomically and with mode 0600 from
 * the first byte: a temporary file is created `O_EXCL` with 0600, written, fsynced, then
 * hard-linked to `path` (fails if `path` exists, unless `overwrite`, which renames over it).
 * Missing parent directories are created with mode 0700.
 * A reader never sees a partial or world-readable key file.
 * @throws {@link IdentityError} `IDENTITY_KEYFILE_EXISTS`, `IDENTITY_KEYFILE_IO`.
 */
export async function saveIdentity(
  identity: Identity,
  path: string,
  options?: KeyFileOptions,
): Promise<void> {
  throwIfAborted(options?.signal)
  const secret = identity.exportSecretKey()
  const json: KeyFileJson = {
    type: 'p2pd-identity',
    version: 1,
    nodeId: identity.nodeId,
    secretKey: toHex(secret),
  }
  secret.fill(0)
  // A first run's state directory may not exist yet: create it private to this user.
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  } catch (err) {
    throw ioError(`cannot create the directory of ${path}`, err)
  }
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  let handle: FileHandle | undefined
  try {
    handle = await open(tmp, 'wx', 0o600)
    await handle.chmod(0o600) // the umask can only remove bits, but be explicit
    await handle.writeFile(`${JSON.stringify(json, null, 2)}\n`)
    await handle.sync()
    await handle.close()
    handle = undefined
    if (options?.overwrite) {
      await rename(tmp, path)
    } else {
      try {
        await link(tmp, path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new IdentityError('IDENTITY_KEYFILE_EXISTS', `key file ${path} already exists`)
        }
        throw err
      }
      await unlink(tmp)
    }
    await syncDirectory(dirname(path))
  } catch (err) {
    await handle?.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    if (err instanceof IdentityError) throw err
    throw ioError(`cannot write key file ${path}`, err)
  }
}

/** Makes the new directory entry durable; best effort (not every platform can open a dir). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined)
  if (!handle) return
  await handle.sync().catch(() => {})
  await handle.close().catch(() => {})
}

/**
 * Reads a key file: the JSON {@link saveIdentity} writes, or a bare 64-hex secret key (one line).
 * On POSIX, refuses a file that group or others may read or write (mode & 0o077), checked on the
 * open file descriptor (no race with a chmod in between).
 * @throws {@link IdentityError} `IDENTITY_KEYFILE_PERMISSIONS`, `IDENTITY_KEYFILE_MALFORMED`,
 *   `IDENTITY_KEYFILE_IO` (including a missing file: `cause.code === 'ENOENT'`).
 */
export async function loadIdentity(path: string, options?: KeyFileOptions): Promise<Identity> {
  throwIfAborted(options?.signal)
  let text: string
  let handle: FileHandle | undefined
  try {
    handle = await open(path, 'r')
    const stat = await handle.stat()
    if (!stat.isFile()) {
      throw new IdentityError('IDENTITY_KEYFILE_MALFORMED', `${path} is not a regular file`)
    }
    if (checksPermissions && (stat.mode & 0o077) !== 0) {
      throw new IdentityError(
        'IDENTITY_KEYFILE_PERMISSIONS',
        `key file ${path} has mode ${(stat.mode & 0o777).toString(8)}; it must be 600 (chmod 600)`,
      )
    }
    if (stat.size > MAX_KEYFILE_SIZE) {
      throw new IdentityError('IDENTITY_KEYFILE_MALFORMED', `key file ${path} is too large`)
    }
    text = await handle.readFile('utf8')
  } catch (err) {
    if (err instanceof IdentityError) throw err
    throw ioError(`cannot read key file ${path}`, err)
  } finally {
    await handle?.close().catch(() => {})
  }
  return parseKeyFile(text, path)
}

function parseKeyFile(text: string, path: string): Identity {
  const malformed = (why: string) =>
    new IdentityError('IDENTITY_KEYFILE_MALFORMED', `key file ${path}: ${why}`)
  const trimmed = text.trim()
  let secretHex: string
  let nodeId: string | undefined
  if (trimmed.startsWith('{')) {
    let json: unknown
    try {
      json = JSON.parse(trimmed)
    } catch {
      throw malformed('invalid JSON')
    }
    const j = json as Partial<Record<keyof KeyFileJson, unknown>>
    if (j.type !== 'p2pd-identity' || j.version !== 1) throw malformed('not a p2pd-identity v1')
    if (typeof j.secretKey !== 'string') throw malformed('no secretKey')
    secretHex = j.secretKey
    if (j.nodeId !== undefined && typeof j.nodeId !== 'string') throw malformed('bad nodeId')
    nodeId = j.nodeId as string | undefined
  } else {
    secretHex = trimmed
  }
  const secret = secretHex.length === 64 ? fromHex(secretHex.toLowerCase()) : undefined
  if (!secret) throw malformed('secret key must be 64 hex chars')
  let identity: Identity
  try {
    identity = identityFromSecret(secret)
  } catch {
    throw malformed('secret key is not a valid secp256k1 key')
  } finally {
    secret.fill(0)
  }
  if (nodeId !== undefined && nodeId !== identity.nodeId) {
    throw malformed('nodeId does not match the secret key')
  }
  return identity
}

/**
 * Loads the identity at `path`, or creates a fresh one there (0600) if the file does not exist.
 * @throws as {@link loadIdentity} and {@link saveIdentity}.
 */
export async function loadOrCreateIdentity(
  path: string,
  options?: KeyFileOptions,
): Promise<Identity> {
  try {
    return await loadIdentity(path, options)
  } catch (err) {
    const missing =
      err instanceof IdentityError &&
      err.code === 'IDENTITY_KEYFILE_IO' &&
      (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
    if (!missing) throw err
  }
  const identity = generateIdentity()
  try {
    await saveIdentity(identity, path, { ...options, overwrite: false })
    return identity
  } catch (err) {
    // Another process created it between our load and save: theirs wins.
    if (err instanceof IdentityError && err.code === 'IDENTITY_KEYFILE_EXISTS') {
      return loadIdentity(path, options)
    }
    throw err
  }
}
