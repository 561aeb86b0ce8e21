/**
 * Runs inside a lab namespace for test/miniupnpd.test.ts. Prints one JSON line per step.
 *   map METHOD PORT   find the gateway, listen on PORT (answers "hi"), map it with METHOD,
 *                     print the grant; on the stdin line "release", unmap and print that.
 *   dial HOST PORT    connect, print what came back or the error code.
 */
import { connect, createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { findGateway, gatewayClients, type MappingMethod } from '../../src/index.js'

const [mode, a = '', b = ''] = process.argv.slice(2)
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`)

if (mode === 'dial') {
  const s = connect(Number(b), a)
  const done = (o: unknown) => {
    out(o)
    process.exit(0)
  }
  s.setTimeout(2000, () => done({ ok: false, error: 'TIMEOUT' }))
  s.on('data', (d) => done({ ok: true, data: String(d).trim() }))
  s.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code }))
} else {
  const method = a as MappingMethod
  const port = Number(b)
  const server = createServer((s) => s.end('hi\n')).listen(port)
  try {
    const gateway = await findGateway({ towards: '198.18.0.10' })
    const [client] = gatewayClients({ gateway, methods: [method] })
    const t0 = performance.now()
    const grant = await client!.map({ protocol: 'tcp', internalPort: port, lifetimeSeconds: 300 })
    out({ ok: true, grant, ms: Math.round(performance.now() - t0) })
    for await (const line of createInterface({ input: process.stdin })) {
      if (line === 'release') {
        await client!.unmap(grant)
        out({ ok: true, released: true })
      }
    }
  } catch (err) {
    out({ ok: false, error: (err as { code?: string }).code ?? String(err), message: String(err) })
  }
  server.close()
  process.exit(0)
}
