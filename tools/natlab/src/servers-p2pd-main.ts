/**
 * The program behind the p2pd lab servers (`servers-p2pd.ts`): runs one of our own servers —
 * `@p2pd/stun`'s `StunServer`, `@p2pd/ntp`'s `SntpServer` or `@p2pd/turn`'s `TurnServer` —
 * inside the lab's internet namespace until SIGTERM.
 *
 *   servers-p2pd-main.ts --tag <run prefix> <stun|sntp|turn> '<options JSON>'
 *
 * The `--tag` argument only names the run in `ps` (every lab process carries its prefix).
 * Prints one line `{"ready":…}` once listening.
 */
import { SntpServer } from '@p2pd/ntp'
import { StunServer } from '@p2pd/stun'
import { TurnServer, type TurnServerOptions } from '@p2pd/turn'

const args = process.argv.slice(2)
if (args[0] === '--tag') args.splice(0, 2)
const [kind, json] = args
const opts = JSON.parse(json ?? '{}') as Record<string, unknown>

interface Closable {
  close(): Promise<void>
}

async function start(): Promise<{ server: Closable; info: unknown }> {
  switch (kind) {
    case 'stun': {
      const server = new StunServer({
        primaryHost: String(opts.primary),
        alternateHost: String(opts.alternate),
        primaryPort: Number(opts.port),
        alternatePort: Number(opts.port) + 1,
        // Every lab peer has its own public IP; the limit is per source IP, keep it roomy.
        rateLimit: { perSecond: 5000, burst: 10_000 },
      })
      await server.start()
      return { server, info: { primary: server.primary, other: server.other } }
    }
    case 'sntp': {
      const server = new SntpServer({ host: String(opts.host), port: Number(opts.port) })
      return { server, info: await server.start() }
    }
    case 'turn': {
      const server = new TurnServer(opts as unknown as TurnServerOptions)
      return { server, info: await server.start() }
    }
    default:
      throw new Error(`unknown server kind '${kind}' (stun, sntp, turn)`)
  }
}

const { server, info } = await start()
process.stdout.write(`${JSON.stringify({ ready: info })}\n`)
let closing = false
const stop = () => {
  if (closing) return
  closing = true
  const hard = setTimeout(() => process.exit(0), 2000)
  hard.unref()
  server.close().finally(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
