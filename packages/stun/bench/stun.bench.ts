import { afterAll, bench, describe } from 'vitest'
import {
  attr,
  createMessage,
  decodeMessage,
  encodeMessage,
  readAttributes,
  StunClass,
  StunMethod,
  StunServer,
  StunTcpClient,
  StunUdpClient,
  shortTermKey,
  verifyIntegrity,
} from '../src/index.js'

const txid = Buffer.alloc(12, 7)
const request = createMessage({ method: StunMethod.Binding, cls: StunClass.Request })
const response = createMessage({
  method: StunMethod.Binding,
  cls: StunClass.SuccessResponse,
  transactionId: txid,
  attributes: [
    attr.xorMappedAddress({ host: '198.51.100.7', port: 40000 }, txid),
    attr.mappedAddress({ host: '198.51.100.7', port: 40000 }),
    attr.responseOrigin({ host: '127.0.0.1', port: 3478 }),
    attr.otherAddress({ host: '127.0.0.2', port: 3479 }),
    attr.software('p2pd-stun'),
  ],
})
const key = shortTermKey('VOkJxbRl1RmTxUk/WvJxBt')
const responseBytes = encodeMessage(response, { fingerprint: true })
const signedBytes = encodeMessage(response, { integrity: { key }, fingerprint: true })

describe('codec', () => {
  bench('encode Binding request + FINGERPRINT', () => {
    encodeMessage(request, { fingerprint: true })
  })
  bench('encode Binding response (5 attrs) + FINGERPRINT', () => {
    encodeMessage(response, { fingerprint: true })
  })
  bench('decode + readAttributes Binding response (checks FINGERPRINT)', () => {
    readAttributes(decodeMessage(responseBytes))
  })
  bench('encode with MESSAGE-INTEGRITY + FINGERPRINT', () => {
    encodeMessage(response, { integrity: { key }, fingerprint: true })
  })
  bench('decode + verify MESSAGE-INTEGRITY', () => {
    verifyIntegrity(decodeMessage(signedBytes), key)
  })
})

// Round trips against our own server on loopback.
const server = new StunServer({ rateLimit: false })
await server.start()
const client = await StunUdpClient.open({ localAddress: '127.0.0.1' })
const tcp = await StunTcpClient.connect(server.primary)
afterAll(async () => {
  await client.close()
  await tcp.close()
  await server.close()
})

describe('binding round trips (loopback, our server)', () => {
  bench('UDP: 1 binding at a time', async () => {
    await client.binding(server.primary)
  })
  bench('UDP: 32 concurrent bindings per iteration', async () => {
    await Promise.all(Array.from({ length: 32 }, () => client.binding(server.primary)))
  })
  bench('TCP: 1 binding at a time (one kept-open connection)', async () => {
    await tcp.binding()
  })
})
