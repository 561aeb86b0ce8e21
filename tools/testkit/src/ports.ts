import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'

/**
 * A port that is free for both TCP and UDP on `host` right now (a server that needs a fixed
 * port number on its command line uses this; everything else binds port 0).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer()
      srv.once('error', reject)
      srv.listen(0, host, () => {
        const addr = srv.address()
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0))
      })
    })
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4')
      s.once('error', () => resolve(false))
      s.bind(port, host, () => s.close(() => resolve(true)))
    })
    if (udpFree) return port
  }
  throw new Error('no free port found')
}
