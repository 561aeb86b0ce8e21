import type { Io } from '../command.js'
import { describeError } from '../describe-error.js'
import { answerPurpose, FramedPipe, requestPurpose, splice } from '../framing.js'
import {
  ALLOW_FLAG,
  describePeer,
  parseNodeArgs,
  peerAddressArg,
  withNode,
} from '../node-command.js'

/**
 * `p2pd listen`: prints this node's address, waits for one peer that asks for a pipe, and
 * splices stdin/stdout through it. Peers that want something else are refused and waited past.
 */
export async function listenCommand(argv: readonly string[], io: Io): Promise<number> {
  const { flags } = parseNodeArgs(argv, ALLOW_FLAG, 0)
  return withNode(flags, io, async ({ node, address }, signal) => {
    io.err(`address: ${address}`)
    io.err('waiting for a peer: p2pd connect <address>')
    for (;;) {
      const pipe = await node.accept({ signal })
      io.err(describePeer(pipe))
      const framed = new FramedPipe(pipe)
      try {
        await answerPurpose(framed, 'pipe')
      } catch (err) {
        io.err(`p2pd listen: ${describeError(err)}`)
        pipe.destroy()
        continue
      }
      await splice(framed, process.stdin, process.stdout)
      io.err('done')
      return 0
    }
  })
}

/** `p2pd connect <address>`: connects and splices stdin/stdout through the pipe. */
export async function connectCommand(argv: readonly string[], io: Io): Promise<number> {
  const { flags, positionals } = parseNodeArgs(argv, {}, 1)
  const address = peerAddressArg(positionals[0], 'connect')
  return withNode(flags, io, async ({ node }, signal) => {
    const t0 = performance.now()
    const pipe = await node.connect(address, { signal, upgrade: false })
    io.err(describePeer(pipe, performance.now() - t0))
    const framed = new FramedPipe(pipe)
    await requestPurpose(framed, 'pipe')
    await splice(framed, process.stdin, process.stdout)
    io.err('done')
    return 0
  })
}
