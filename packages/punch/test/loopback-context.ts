import type { Clock, PeerAddress, Signaling, StrategyContext } from '@p2pd/interface'

/** A remote-mode peer address on loopback (ext = 127.0.0.1: the NAT's mapping is the port). */
export function loopbackAddress(
  nodeId: string,
  machineId: string,
  nat: PeerAddress['ip4'][number]['nat'],
): PeerAddress {
  return {
    signal: [0],
    ip4: [{ netifaceIndex: 0, ifIndex: 0, ext: '127.0.0.1', nic: '127.0.0.1', port: 9, nat }],
    ip6: [],
    nodeId,
    legacy: false,
    machineId,
  }
}

/** A strategy context maker on `clock`: no inbound expected, no log. */
export const contextOf =
  (clock: Clock) =>
  (local: PeerAddress, remote: PeerAddress, signaling: Signaling): StrategyContext => ({
    local,
    localText: `addr-of-${local.nodeId}`,
    remote,
    signaling,
    clock,
    expectConnection: () => Promise.reject(new Error('unused')),
    log: () => {},
  })
