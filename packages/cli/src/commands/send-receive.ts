import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { type FileHandle, mkdir, open, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { UsageError } from '../args.js'
import type { Io } from '../command.js'
import { describeError } from '../describe-error.js'
import { listOffered, type OfferedFile, safeSegments } from '../files.js'
import { answerPurpose, DATA, FramedPipe, requestPurpose, SessionError } from '../framing.js'
import {
  ALLOW_FLAG,
  describePeer,
  parseNodeArgs,
  peerAddressArg,
  withNode,
} from '../node-command.js'
import { formatBytes, Progress } from '../progress.js'

/** At most this many files in one offer: bounds what a sender can make a receiver do. */
const MAX_FILES = 1_000_000

interface Offer {
  readonly count?: unknown
  readonly total?: unknown
}
interface FileHeader {
  readonly path?: unknown
  readonly size?: unknown
}
interface Outcome {
  readonly ok?: unknown
  readonly error?: unknown
}

const isSize = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/**
 * `p2pd send <file|dir>`: prints the address, waits for a `p2pd receive`, streams every file
 * with its SHA-256 and exits 0 once the receiver says all of them verified and were stored.
 */
export async function sendCommand(argv: readonly string[], io: Io): Promise<number> {
  const { flags, positionals } = parseNodeArgs(argv, ALLOW_FLAG, 1)
  const root = positionals[0]
  if (!root) throw new UsageError('send needs a file or directory to offer')
  let files: OfferedFile[]
  try {
    files = await listOffered(resolve(root))
  } catch (err) {
    throw new UsageError(`cannot read ${root}: ${(err as Error).message}`)
  }
  if (files.length === 0) throw new UsageError(`nothing to send: ${root} holds no regular file`)
  const total = files.reduce((n, f) => n + f.size, 0)
  return withNode(flags, io, async ({ node, address }, signal) => {
    io.err(`address: ${address}`)
    io.err(
      `offering ${files.length} file(s), ${formatBytes(total)}; on the other machine run: p2pd receive <address>`,
    )
    for (;;) {
      const pipe = await node.accept({ signal })
      io.err(describePeer(pipe))
      const framed = new FramedPipe(pipe)
      try {
        await answerPurpose(framed, 'receive')
      } catch (err) {
        io.err(`p2pd send: ${describeError(err)}`)
        pipe.destroy()
        continue
      }
      await framed.sendControl({ count: files.length, total })
      const progress = new Progress(total)
      for (const file of files) await sendFile(framed, file, progress)
      const outcome = await framed.readControl<Outcome>()
      const { seconds, rate } = progress.finish()
      await framed.close()
      if (outcome.ok !== true) {
        io.err(`p2pd send: the receiver failed: ${String(outcome.error ?? 'no reason given')}`)
        return 1
      }
      io.err(
        `sent ${files.length} file(s), ${formatBytes(total)} in ${seconds.toFixed(1)} s (${rate}); the receiver verified every SHA-256`,
      )
      return 0
    }
  })
}

async function sendFile(framed: FramedPipe, file: OfferedFile, progress: Progress) {
  await framed.sendControl({ path: file.path, size: file.size })
  const hash = createHash('sha256')
  let sent = 0
  for await (const chunk of createReadStream(file.source, { highWaterMark: 64 * 1024 })) {
    const buf = chunk as Buffer
    if (sent + buf.length > file.size) break
    hash.update(buf)
    await framed.write(DATA, buf)
    sent += buf.length
    progress.add(buf.length)
  }
  if (sent !== file.size) throw new SessionError(`${file.source} changed while it was being sent`)
  await framed.sendControl({ sha256: hash.digest('hex') })
}

/**
 * `p2pd receive <address>`: fetches what a `p2pd send` offers into `--out`, each file through
 * a temporary file that is renamed into place only after its SHA-256 matched.
 */
export async function receiveCommand(argv: readonly string[], io: Io): Promise<number> {
  const { flags, positionals } = parseNodeArgs(
    argv,
    { out: { type: 'string' }, force: { type: 'boolean' } },
    1,
  )
  const address = peerAddressArg(positionals[0], 'receive')
  const outDir = resolve((flags.out as string | undefined) ?? '.')
  const isDir = await stat(outDir).then(
    (s) => s.isDirectory(),
    () => false,
  )
  if (!isDir) throw new UsageError(`--out ${outDir} is not a directory (create it first)`)
  const force = flags.force === true
  return withNode(flags, io, async ({ node }, signal) => {
    const t0 = performance.now()
    const pipe = await node.connect(address, { signal, upgrade: false })
    io.err(describePeer(pipe, performance.now() - t0))
    const framed = new FramedPipe(pipe)
    await requestPurpose(framed, 'receive')
    const offer = await framed.readControl<Offer>()
    if (!isSize(offer.count) || offer.count > MAX_FILES || !isSize(offer.total)) {
      throw new SessionError('the sender sent a malformed offer')
    }
    io.err(`receiving ${offer.count} file(s), ${formatBytes(offer.total)} into ${outDir}`)
    const progress = new Progress(offer.total)
    const stored: string[] = []
    try {
      for (let i = 0; i < offer.count; i++) {
        stored.push(await receiveFile(framed, outDir, force, progress))
      }
    } catch (err) {
      await framed.sendControl({ ok: false, error: describeError(err) }).catch(() => {})
      await framed.close()
      throw err
    }
    await framed.sendControl({ ok: true })
    const { seconds, rate } = progress.finish()
    await framed.close()
    for (const path of stored) io.out(path)
    io.err(
      `received ${stored.length} file(s), ${formatBytes(offer.total)} in ${seconds.toFixed(1)} s (${rate}), SHA-256 verified`,
    )
    return 0
  })
}

async function receiveFile(
  framed: FramedPipe,
  outDir: string,
  force: boolean,
  progress: Progress,
): Promise<string> {
  const header = await framed.readControl<FileHeader>()
  const segments = safeSegments(header.path)
  if (!isSize(header.size)) throw new SessionError('the sender sent a malformed file header')
  const size = header.size
  const final = join(outDir, ...segments)
  await mkdir(dirname(final), { recursive: true })
  const exists = await stat(final).then(
    () => true,
    () => false,
  )
  if (exists && !force) {
    throw new SessionError(`${final} already exists (use --force to replace it)`)
  }
  // Same directory as the final name, so the rename is atomic; hidden while incomplete.
  const temp = join(
    dirname(final),
    `.${basename(final)}.p2pd-partial-${randomBytes(4).toString('hex')}`,
  )
  let handle: FileHandle | undefined = await open(temp, 'wx', 0o644)
  try {
    const hash = createHash('sha256')
    let got = 0
    while (got < size) {
      const frame = await framed.next()
      if (!frame) throw new SessionError(`the sender went away after ${got} of ${size} bytes`)
      if (frame.type !== DATA || frame.payload.length > size - got) {
        throw new SessionError('the sender sent more than it announced')
      }
      await handle.write(frame.payload)
      hash.update(frame.payload)
      got += frame.payload.length
      progress.add(frame.payload.length)
    }
    const trailer = await framed.readControl<{ sha256?: unknown }>()
    await handle.sync()
    await handle.close()
    handle = undefined
    if (trailer.sha256 !== hash.digest('hex')) {
      throw new SessionError(`SHA-256 mismatch for ${segments.join('/')}: not stored`)
    }
    await rename(temp, final)
    return final
  } catch (err) {
    await handle?.close().catch(() => {})
    await unlink(temp).catch(() => {})
    throw err
  }
}
