// Our TurnServer in a process of its own for the relayed metric, as coturn is: a TURN server
// never shares the peers' event loop, and in one process its copying would be charged to the
// pipe. Prints {"host","port"} once listening; stops when stdin ends.
import { TurnServer } from '../../../packages/turn/src/index.js'

const server = new TurnServer({ users: { bench: 'bench' }, allowLoopbackPeers: true })
await server.start()
process.stdout.write(`${JSON.stringify(server.address)}\n`)
process.stdin.resume()
process.stdin.on('end', () => {
  void server.close().then(() => process.exit(0))
})
