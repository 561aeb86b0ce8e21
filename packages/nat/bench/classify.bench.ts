import { StunServer } from '@p2pd/stun'
import { afterAll, beforeAll, bench, describe } from 'vitest'
import { classifyDelta, discoverNat, natInfoForInterface, predictPorts } from '../src/index.js'
import { type FakeNatStunServer, fakeNat } from '../test/fake-nat-stun.js'

// Wall time per classification on loopback (RTT ≈ 0): what remains is the negative-answer
// window (filtering, hairpin) and the serial delta samples. Add ~(2 + samples) × RTT for a
// real path (UDP) — see the README.
let server: StunServer
let spec: string
let sym: FakeNatStunServer
let cone: FakeNatStunServer
beforeAll(async () => {
  server = new StunServer({ rateLimit: false })
  await server.start()
  spec = `${server.primary.host}:${server.primary.port}`
  sym = await fakeNat({
    mapping: 'APDM',
    filtering: 'APDF',
    ports: { kind: 'sequential', step: 1, base: 30000 },
  })
  cone = await fakeNat({ mapping: 'EIM', filtering: 'APDF' })
})
afterAll(async () => {
  await Promise.all([server.close(), sym.close(), cone.close()])
})

const opts = { time: 3000, iterations: 10, warmupIterations: 2 }

describe('classification wall time (loopback)', () => {
  bench(
    'StunServer, UDP (open: no negative wait)',
    async () => {
      await discoverNat({ servers: [spec], localAddress: '127.0.0.1' })
    },
    opts,
  )
  bench(
    'StunServer, TCP',
    async () => {
      await discoverNat({ servers: [spec], localAddress: '127.0.0.1', transport: 'tcp' })
    },
    opts,
  )
  bench(
    'StunServer, UDP + TCP (natInfoForInterface)',
    async () => {
      await natInfoForInterface({ servers: [spec], localAddress: '127.0.0.1' })
    },
    opts,
  )
  bench(
    'simulated port-restricted cone, UDP (filtering window + 9 delta samples)',
    async () => {
      await discoverNat({ servers: [cone.spec], localAddress: '127.0.0.1' })
    },
    opts,
  )
  bench(
    'simulated symmetric +1, TCP (9 serial connects)',
    async () => {
      await discoverNat({ servers: [sym.spec], localAddress: '127.0.0.1', transport: 'tcp' })
    },
    opts,
  )
})

describe('pure parts', () => {
  const samples = Array.from({ length: 9 }, (_, i) => ({
    local: 40000 + i * 1000,
    mapped: 50000 + i,
  }))
  bench('classifyDelta (9 samples)', () => {
    classifyDelta(samples)
  })
  const ours = { type: 6, delta: { type: 4, value: 1 } } as const
  const theirs = { type: 5, delta: { type: 2, value: 0 } } as const
  const observed = {
    local: { host: '10.0.0.2', port: 40000 },
    mapped: { host: '198.18.1.1', port: 50000 },
  }
  bench('predictPorts (sequential, 4 candidates)', () => {
    predictPorts({ ours, theirs, observed })
  })
})
