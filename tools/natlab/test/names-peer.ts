/**
 * One side of the lab's connect-by-name test (`names.test.ts`), run in a peer's namespace:
 * a real `@p2pd/node` (lab STUN for its interfaces, lab mosquitto for signaling and names,
 * direct → reverse → punch → TURN).
 *
 * - `bob`: starts, publishes `bob.<fingerprint>` with a `NamePublisher` following the node,
 *   prints `{"type":"ready","name":…}`, answers the first pipe's `hello` with `hi <nonce>`,
 *   then idles until SIGTERM.
 * - `alice <name>`: starts with a name resolver, `node.connect(name)`, sends `hello <nonce>`,
 *   prints `{"type":"result",…}` with the peer's node ID, the strategy and the reply.
 */
import { randomBytes } from 'node:crypto'
import { NamePublisher, nameResolver } from '@p2pd/names'
import { createNode, direct, reverse, stunInterfaces } from '@p2pd/node'
import { punch } from '@p2pd/punch'
import { mqttSignaling } from '@p2pd/signal-mqtt'
import { turn } from '@p2pd/turn'

interface Endpoint {
  host: string
  port: number
  extra?: Record<string, string>
}
const [role, target] = process.argv.slice(2)
const servers = JSON.parse(process.env.NAMES_LAB_SERVERS ?? '{}') as Record<
  string,
  Record<string, Endpoint>
>
const stun = servers['p2pd-stun']?.stun
const turnEp = servers['p2pd-turn']?.turn
const mqtt = servers.mosquitto?.mqtt?.extra?.url
if (!stun || !mqtt || !turnEp?.extra) throw new Error('the lab lacks STUN, TURN or mosquitto')
const emit = (msg: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(msg)}\n`)

const node = createNode({
  signaling: (identity) => mqttSignaling({ identity, brokers: [mqtt], redundancy: 1 }),
  strategies: [
    direct(),
    reverse(),
    punch({ stunServers: [{ host: stun.host, port: stun.port }] }),
    turn({
      servers: [
        {
          host: turnEp.host,
          port: turnEp.port,
          transport: 'udp',
          username: turnEp.extra.user as string,
          password: turnEp.extra.password as string,
        },
      ],
    }),
  ],
  interfaces: stunInterfaces({
    stunServers: [`${stun.host}:${stun.port}`],
    publicRanges: ['198.18.0.0/15'],
    families: [4],
  }),
  machineId: `natlab_names_${role}_${process.pid}`,
  startTimeoutMs: 15_000,
  connectTimeoutMs: 25_000,
  ...(role === 'alice' ? { names: nameResolver({ brokers: [mqtt], timeoutMs: 5_000 }) } : {}),
})
process.on('SIGTERM', () => {
  void Promise.race([node.stop(), new Promise((r) => setTimeout(r, 500))]).finally(() =>
    process.exit(0),
  )
})

try {
  await node.start()
  if (role === 'bob') {
    const publisher = new NamePublisher({ identity: node.identity, label: 'bob', brokers: [mqtt] })
    await publisher.follow(node)
    emit({ type: 'ready', name: publisher.name, nodeId: node.nodeId })
    const pipe = await node.accept()
    pipe.once('data', (d: Buffer) => pipe.write(`hi ${d.toString().split(' ')[1] ?? ''}`))
  } else {
    const t0 = performance.now()
    const pipe = await node.connect(target as string)
    const ms = Math.round(performance.now() - t0)
    const nonce = randomBytes(6).toString('hex')
    const reply = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), 10_000)
      pipe.once('data', (d: Buffer) => {
        clearTimeout(timer)
        resolve(d.toString())
      })
      pipe.write(`hello ${nonce}`)
    })
    emit({
      type: 'result',
      ok: reply === `hi ${nonce}`,
      peer: pipe.remotePeer,
      strategy: pipe.strategy,
      relayed: pipe.path.relayed,
      ms,
    })
    await node.stop()
    process.exit(0)
  }
} catch (err) {
  emit({
    type: 'result',
    ok: false,
    error: `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`,
  })
  process.exitCode = 1
}
