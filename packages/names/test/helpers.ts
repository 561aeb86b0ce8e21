import { encodePeerAddress } from '@p2pd/address'
import type { Identity } from '@p2pd/identity'
import { DeltaType, NatType } from '@p2pd/interface'

/** A canonical peer address for `identity` on 127.0.0.1:`port`. */
export function addressOf(identity: Identity, port = 4000): string {
  return encodePeerAddress({
    signal: [0],
    ip4: [
      {
        netifaceIndex: 0,
        ifIndex: 0,
        ext: '127.0.0.1',
        nic: '127.0.0.1',
        port,
        nat: { type: NatType.OpenInternet, delta: { type: DeltaType.NotApplicable, value: 0 } },
      },
    ],
    ip6: [],
    nodeId: identity.nodeId,
    legacy: false,
    machineId: 'testmachine',
  })
}

/** Unix seconds now. */
export const nowS = (): number => Math.floor(Date.now() / 1000)
