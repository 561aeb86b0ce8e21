// p2pd's direct pipe as @p2pd/node makes it: TCP, then the Noise XX secure channel of
// @p2pd/identity bound to both node IDs — the built package (the worker runs without the
// source condition), as users install it.
import { generateIdentity, type Identity, secureChannel } from '@p2pd/identity'
import { fromDuplex, type Implementation } from '../stream.js'
import { tcpDial, tcpListen } from './raw.js'

export function securePipe(
  socket: import('node:net').Socket,
  identity: Identity,
  initiator: boolean,
  expectedPeer: string | (() => boolean),
) {
  return secureChannel(socket, {
    identity,
    expectedPeer,
    initiator,
    timeoutMs: 10_000,
    strategy: 'direct',
  })
}

export const p2pd: Implementation = {
  async listen(onStream) {
    const identity = generateIdentity()
    const server = await tcpListen((socket) => {
      securePipe(socket, identity, false, () => true).then(
        (pipe) => onStream(fromDuplex(pipe)),
        () => socket.destroy(),
      )
    })
    return { address: `${server.port}/${identity.nodeId}`, close: server.close }
  },
  async dialer(address) {
    const [port, nodeId] = address.split('/') as [string, string]
    const identity = generateIdentity()
    return {
      dial: async () =>
        fromDuplex(await securePipe(await tcpDial(Number(port)), identity, true, nodeId)),
      close: async () => {},
    }
  },
}
