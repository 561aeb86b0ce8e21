import {
  describeGrant,
  findGateway,
  gatewayClients,
  type MappingMethod,
  PortMapper,
} from '@p2pd/portmap'
import { choiceFlag, intFlag, listFlag, parseFlags, UsageError } from '../args.js'

const METHODS: readonly MappingMethod[] = ['pcp', 'nat-pmp', 'upnp']

/**
 * `p2pd map --port N`: asks this LAN's gateway to forward a port (PCP, then NAT-PMP, then
 * UPnP IGD), prints the grant and deletes it again — or, with `--hold`, keeps it renewed until
 * Ctrl-C. Answers "would port mapping work here?".
 */
export async function mapCommand(
  argv: readonly string[],
  out: (line: string) => void,
  options: { hold?: AbortSignal } = {},
): Promise<void> {
  const { flags } = parseFlags(argv, {
    port: { type: 'string' },
    protocol: { type: 'string' },
    gateway: { type: 'string' },
    'gateway-port': { type: 'string' },
    method: { type: 'string' },
    lifetime: { type: 'string' },
    timeout: { type: 'string' },
    hold: { type: 'boolean' },
    json: { type: 'boolean' },
  })
  if (flags.port === undefined) throw new UsageError('map needs --port 1–65535 (the local port)')
  const port = intFlag(flags, 'port', 0, { min: 1, max: 65535 })
  const protocol = choiceFlag(flags, 'protocol', ['tcp', 'udp'] as const, 'tcp')
  const methods = listFlag(flags, 'method', METHODS) ?? [...METHODS]
  const gateway = (flags.gateway as string | undefined) ?? (await findGateway())
  const gatewayPort =
    flags['gateway-port'] === undefined
      ? undefined
      : intFlag(flags, 'gateway-port', 5351, { min: 1, max: 65535 })
  out(`gateway ${gateway}: trying ${methods.join(', ')}…`)
  const mapper = new PortMapper(
    gatewayClients({
      gateway,
      methods,
      ...(gatewayPort ? { port: gatewayPort } : {}),
    }),
  )
  const t0 = performance.now()
  try {
    const mapping = await mapper.map({
      protocol,
      internalPort: port,
      lifetimeSeconds: intFlag(flags, 'lifetime', 3600, { min: 1 }),
      methodTimeoutMs: intFlag(flags, 'timeout', 2000, { min: 1 }),
    })
    const ms = (performance.now() - t0).toFixed(0)
    out(
      flags.json
        ? JSON.stringify({ ...mapping.grant, ms: Number(ms) })
        : `mapped: ${describeGrant(mapping.grant)} in ${ms} ms, lifetime ${mapping.grant.lifetimeSeconds} s`,
    )
    if (flags.hold) {
      out('holding it (renewed at half its lifetime); Ctrl-C releases it')
      mapping.on('change', (g) => out(`moved: ${describeGrant(g)}`))
      const stop = options.hold ?? interrupted()
      await new Promise<void>((resolve) => {
        mapping.once('lost', (err) => {
          out(`lost: ${err.message}`)
          resolve()
        })
        stop.addEventListener('abort', () => resolve(), { once: true })
      })
    }
    await mapping.release()
    out('released')
  } finally {
    mapper.close()
  }
}

/** Aborts on the first SIGINT/SIGTERM. */
function interrupted(): AbortSignal {
  const ac = new AbortController()
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => ac.abort())
  return ac.signal
}
