import type { Endpoint } from '@p2pd/interface'
import {
  AttrType,
  attr,
  createMessage,
  encodeMessage,
  newTransactionId,
  StunClass,
  type StunMethod,
} from '@p2pd/stun'

/**
 * The encoded indication that carries peer data without a channel (RFC 8656 §11): a Send
 * (client → server) or a Data (server → client), with XOR-PEER-ADDRESS and DATA.
 */
export function peerDataIndication(
  method: typeof StunMethod.Send | typeof StunMethod.Data,
  peer: Endpoint,
  data: Uint8Array,
): Buffer {
  const tid = newTransactionId()
  return encodeMessage(
    createMessage({
      method,
      cls: StunClass.Indication,
      transactionId: tid,
      attributes: [
        attr.xorAddress(AttrType.XorPeerAddress, peer, tid),
        attr.raw(AttrType.Data, data),
      ],
    }),
  )
}
