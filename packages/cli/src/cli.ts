import { readFileSync } from 'node:fs'
import { UsageError, wantsHelp } from './args.js'
import type { CommandRun, Io } from './command.js'
import { describeError } from './describe-error.js'
import { type CommandName, SUMMARIES, USAGE } from './help.js'

/** Each command's code, loaded only when that command runs (help stays instant). */
const LOADERS: Partial<Record<CommandName, () => Promise<CommandRun>>> = {
  listen: async () => (await import('./commands/pipe.js')).listenCommand,
  connect: async () => (await import('./commands/pipe.js')).connectCommand,
  tunnel: async () => (await import('./commands/tunnel.js')).tunnelCommand,
  daemon: async () => (await import('./commands/daemon.js')).daemonCommand,
  send: async () => (await import('./commands/send-receive.js')).sendCommand,
  receive: async () => (await import('./commands/send-receive.js')).receiveCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  infra: async () => (await import('./commands/infra.js')).infraCommand,
  nat: async () => {
    const { natCommand } = await import('./commands/nat.js')
    return (argv, io) => natCommand(argv, io.out, io.err)
  },
  map: async () => {
    const { mapCommand } = await import('./commands/map.js')
    return async (argv, io) => {
      await mapCommand(argv, io.out)
      return 0
    }
  },
  addr: async () => {
    const { addrCommand } = await import('./commands/addr.js')
    return async (argv, io) => {
      addrCommand(argv, io.out)
      return 0
    }
  },
  id: async () => {
    const { idCommand } = await import('./commands/id.js')
    return async (argv, io) => {
      await idCommand(argv, io.out)
      return 0
    }
  },
  name: async () => (await import('./commands/name.js')).nameCommand,
  demo: async () => {
    const { demoCommand } = await import('./commands/demo.js')
    return (argv, io) => demoCommand(argv, io.out)
  },
}

/** Every available subcommand, in the order `p2pd --help` lists them. */
export const COMMANDS: readonly CommandName[] = (Object.keys(SUMMARIES) as CommandName[]).filter(
  (name) => LOADERS[name] !== undefined,
)

/** The package version (src/ and dist/ both sit one level below package.json). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  return String(pkg.version)
}

function mainUsage(): string {
  const width = Math.max(12, ...COMMANDS.map((c) => c.length)) + 3
  return [
    'usage: p2pd <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.padEnd(width)}${SUMMARIES[c]}`),
    '',
    'options:',
    `  ${'-h, --help'.padEnd(width)}this text; \`p2pd <command> --help\` explains one command`,
    `  ${'--version'.padEnd(width)}print the version`,
  ].join('\n')
}

const isCommand = (name: string | undefined): name is CommandName =>
  COMMANDS.includes(name as CommandName)

/** Runs `p2pd <argv…>`; resolves to the exit code (0 ok, 1 failed, 2 usage error). */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined
    io.out(isCommand(topic) ? USAGE[topic] : mainUsage())
    return 0
  }
  if (name === '--version' || name === '-V') {
    io.out(version())
    return 0
  }
  if (!isCommand(name)) {
    io.err(`p2pd: unknown command '${name}'\n\n${mainUsage()}`)
    return 2
  }
  if (wantsHelp(rest)) {
    io.out(USAGE[name])
    return 0
  }
  try {
    const run = await (LOADERS[name] as () => Promise<CommandRun>)()
    return await run(rest, io)
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`p2pd ${name}: ${err.message}\n\n${USAGE[name]}`)
      return 2
    }
    io.err(`p2pd ${name}: ${describeError(err)}`)
    return 1
  }
}
