import { createServer, type Server, Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// What TCP allows in Node on Linux, which the TCP mapping tests and TCP port prediction rely
// on: libuv binds every TCP socket with SO_REUSEADDR, so several *connected* sockets can share
// one local port as long as their 4-tuples differ.
const servers: Server[] = []
beforeAll(async () => {
  for (const host of ['127.0.0.1', '127.0.0.2']) {
    const s = createServer((c) => c.on('error', () => {}))
    await new Promise<void>((r) => s.listen(0, host, r))
    servers.push(s)
  }
})
afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))))

const port = (s: Server) => (s.address() as { port: number }).port
function connect(host: string, p: number, localPort?: number): Promise<Socket | string> {
  return new Promise((resolve) => {
    const c = new Socket()
    c.once('connect', () => resolve(c))
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    c.connect({ host, port: p, localAddress: '127.0.0.1', ...(localPort ? { localPort } : {}) })
  })
}

describe.runIf(process.platform === 'linux')('TCP local port sharing (Linux)', () => {
  it('concurrent connections from one local port to different destinations work', async () => {
    const a = (await connect('127.0.0.1', port(servers[0]!))) as Socket
    const b = await connect('127.0.0.2', port(servers[1]!), a.localPort)
    expect(b).toBeInstanceOf(Socket)
    expect((b as Socket).localPort).toBe(a.localPort)
    // The same 4-tuple while the first connection lives: EADDRNOTAVAIL.
    expect(await connect('127.0.0.1', port(servers[0]!), a.localPort)).toBe('EADDRNOTAVAIL')
    ;(b as Socket).destroy()
    a.destroy()
  })

  it('but not from a port that connect() picked itself (no explicit bind, no SO_REUSEADDR)', async () => {
    const a = await new Promise<Socket>((resolve) => {
      const c = new Socket()
      c.once('connect', () => resolve(c))
      c.connect({ host: '127.0.0.1', port: port(servers[0]!) }) // no localAddress: autobind
    })
    expect(await connect('127.0.0.2', port(servers[1]!), a.localPort)).toBe('EADDRINUSE')
    a.destroy()
  })
})
