#!/usr/bin/env node
import { isP2pdError } from '@p2pd/interface'
import { UsageError } from './args.js'
import { addrCommand } from './commands/addr.js'
import { demoCommand } from './commands/demo.js'
import { idCommand } from './commands/id.js'
import { mapCommand } from './commands/map.js'
import { natCommand } from './commands/nat.js'

const usage = `usage: p2pd <command> [options]

commands:
  demo [--mb N] [--only direct,reverse,…]   two nodes on embedded loopback servers, every strategy
  addr <peer-address>                       decode and explain a peer address
  id <keyfile>                              load or create a node key (0600) and print its node ID
  nat --server HOST:PORT [--server …] [--transport udp|tcp|both] [--local IP] [--json]
                                            classify this machine's NAT against those STUN servers
  map --port N [--protocol tcp|udp] [--method pcp,nat-pmp,upnp] [--gateway IP] [--hold] [--json]
                                            ask this LAN's gateway to forward a port, then release it`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const out = (line: string) => console.log(line)
  switch (command) {
    case 'demo':
      return demoCommand(rest, out)
    case 'addr':
      addrCommand(rest, out)
      return 0
    case 'id':
      await idCommand(rest, out)
      return 0
    case 'nat':
      await natCommand(rest, out)
      return 0
    case 'map':
      await mapCommand(rest, out)
      return 0
    case undefined:
    case 'help':
    case '--help':
      console.log(usage)
      return 0
    default:
      throw new UsageError(`unknown command '${command}'`)
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`p2pd: ${err.message}\n\n${usage}`)
      process.exitCode = 2
    } else {
      console.error(
        `p2pd: ${isP2pdError(err) ? `${err.code}: ${err.message}` : (err as Error).stack}`,
      )
      process.exitCode = 1
    }
  },
)
