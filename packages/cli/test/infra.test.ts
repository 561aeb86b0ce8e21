import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Deadline } from '@p2pd/interface'
import { createNode } from '@p2pd/node'
import { mqttSignaling } from '@p2pd/signal-mqtt'
import {
  attr,
  createMessage,
  type DecodedStunMessage,
  decodeMessage,
  encodeMessage,
  readAttributes,
  type StunAttribute,
  StunClass,
  StunMethod,
  StunTcpClient,
  StunUdpClient,
} from '@p2pd/stun'
import { TurnClient, turn } from '@p2pd/turn'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UsageError } from '../src/args.js'
import { packetSizeGuard, startBroker } from '../src/broker.js'
import { runCli as runInProcess } from '../src/cli.js'
import { parseInfraFile, resolveInfraSettings } from '../src/infra-settings.js'
import { type ClientSnippet, startServers } from '../src/servers.js'
import { exchange } from '../src/transfer.js'
import { type Finished, finished, runCli, startCli, waitForLine } from './spawn.js'

const ANY_PORTS = ['--mqtt-port', '0', '--stun-port', '0', '--ntp-port', '0', '--turn-port', '0']

async function inProcess(args: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = []
  const code = await runInProcess(args, { out: () => {}, err: (l) => err.push(l) })
  return { code, err: err.join('\n') }
}

/** True when `port` can be bound again (UDP or TCP) on `host`. */
async function free(proto: 'udp' | 'tcp', host: string, port: number): Promise<boolean> {
  if (proto === 'tcp') {
    const s: Server = createServer()
    return new Promise((resolve) => {
      s.once('error', () => resolve(false))
      s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)))
    })
  }
  const u = createSocket('udp4')
  return new Promise((resolve) => {
    u.once('error', () => resolve(false))
    u.bind({ address: host, port, exclusive: true }, () => u.close(() => resolve(true)))
  })
}

/** Sends one Binding request with `attributes` over UDP; resolves with the decoded answer. */
function rawRequest(
  to: { host: string; port: number },
  attributes: StunAttribute[],
): Promise<DecodedStunMessage> {
  const socket = createSocket('udp4')
  const req = createMessage({ method: StunMethod.Binding, cls: StunClass.Request, attributes })
  return new Promise<DecodedStunMessage>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer')), 10_000)
    socket.once('message', (data) => {
      clearTimeout(timer)
      resolve(decodeMessage(data))
    })
    socket.send(encodeMessage(req, { fingerprint: true }), to.port, to.host)
  }).finally(() => socket.close())
}

const portOf = (hp: string) => Number(hp.slice(hp.lastIndexOf(':') + 1))

describe('p2pd infra (spawned, loopback, RFC 5780 on 127.0.0.1 + 127.0.0.2)', () => {
  let dir: string
  let infra: ChildProcess
  let done: Promise<Finished>
  let stdout = ''
  let snippet: ClientSnippet
  let snippetPath: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2pd-infra-'))
    env = { XDG_CONFIG_HOME: dir, P2PD_CONFIG: '', P2PD_KEY: '' }
    const config = join(dir, 'infra.json')
    // Settings from the config file's "infra" key, ports and the peer policy from flags.
    await writeFile(
      config,
      JSON.stringify({
        infra: {
          host: '127.0.0.1',
          alternate: '127.0.0.2',
          realm: 'test.p2pd',
          users: { alice: 'secret', bob: 'other' },
        },
      }),
    )
    snippetPath = join(dir, 'client.json')
    infra = startCli(
      [
        'infra',
        '--config',
        config,
        ...ANY_PORTS,
        '--allow-loopback-peers',
        '--snippet',
        snippetPath,
      ],
      env,
    )
    infra.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    done = finished(infra)
    await waitForLine(infra, /p2pd infra: ready/, 60_000)
    // stdout and stderr are separate pipes: give stdout a moment to catch up with "ready".
    for (let i = 0; i < 50 && !stdout.trim().endsWith('}'); i++) {
      await new Promise((r) => setTimeout(r, 100))
    }
    snippet = JSON.parse(stdout)
  }, 90_000)

  afterAll(async () => {
    if (infra && infra.exitCode === null) infra.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  it('prints exactly one JSON document: a client config pointing at its servers', async () => {
    expect(Object.keys(snippet).sort()).toEqual(['brokers', 'ntp', 'stun', 'turn'])
    expect(snippet.brokers).toEqual([expect.stringMatching(/^mqtt:\/\/127\.0\.0\.1:\d+$/)])
    const stun = snippet.stun.udp[0] as string
    expect(stun).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(snippet.stun).toEqual({ classify: [stun], tcp: [stun], udp: [stun] })
    expect(snippet.ntp).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)])
    expect(snippet.turn).toEqual([
      { host: '127.0.0.1', port: expect.any(Number), username: 'alice', password: 'secret' },
    ])
    // The same document went to --snippet, readable by the owner only (it holds a password).
    expect(JSON.parse(await readFile(snippetPath, 'utf8'))).toEqual(snippet)
    expect((await stat(snippetPath)).mode & 0o777).toBe(0o600)
    // …and `p2pd config` accepts it as a client config file.
    const shown = await runCli(['config', '--config', snippetPath], env)
    expect(shown.code, shown.stderr).toBe(0)
    expect(JSON.parse(shown.stdout).brokers).toEqual(snippet.brokers)
  })

  it('p2pd nat --config <snippet> classifies against it (RFC 5780 measured), exit 0', async () => {
    const r = await runCli(['nat', '--config', snippetPath, '--timeout', '10000'], env)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^UDP: .*\(type \d\)$/m)
    expect(r.stdout).toMatch(/filtering \w+ \(measured\)/)
    expect(r.stdout).not.toMatch(/blocked/)
  }, 60_000)

  it('p2pd listen / connect with the snippet as config exchange data', async () => {
    const flags = ['--config', snippetPath, '--interfaces', 'loopback']
    const listener = startCli(['listen', ...flags], { ...env, XDG_CONFIG_HOME: join(dir, 'a') })
    const listenDone = finished(listener)
    const address = (await waitForLine(listener, /^address: /, 60_000)).slice('address: '.length)
    const toListener = randomBytes(100_000)
    const toConnector = randomBytes(50_000)
    listener.stdin?.end(toConnector)
    listener.stdout?.setEncoding('latin1')
    const connector = startCli(['connect', address, ...flags], {
      ...env,
      XDG_CONFIG_HOME: join(dir, 'b'),
    })
    connector.stdout?.setEncoding('latin1')
    connector.stdin?.end(toListener)
    const [l, c] = await Promise.all([listenDone, finished(connector)])
    expect(c.code, c.stderr).toBe(0)
    expect(l.code, l.stderr).toBe(0)
    expect(Buffer.from(l.stdout, 'latin1').equals(toListener)).toBe(true)
    expect(Buffer.from(c.stdout, 'latin1').equals(toConnector)).toBe(true)
    expect(c.stderr).not.toMatch(/no NTP server answered/)
  }, 90_000)

  it('TURN checks long-term credentials: a wrong password cannot allocate', async () => {
    const turn = snippet.turn[0] as ClientSnippet['turn'][number]
    await expect(
      TurnClient.allocate({ ...turn, password: 'wrong' }, { timeoutMs: 10_000 }),
    ).rejects.toMatchObject({ code: 'TURN_UNAUTHORIZED' })
    await expect(
      TurnClient.allocate({ ...turn, username: 'mallory' }, { timeoutMs: 10_000 }),
    ).rejects.toMatchObject({ code: 'TURN_UNAUTHORIZED' })
    // Every configured user works, and --allow-loopback-peers lets it relay to 127.0.0.1.
    for (const [username, password] of [
      ['alice', 'secret'],
      ['bob', 'other'],
    ] as const) {
      const client = await TurnClient.allocate(
        { ...turn, username, password },
        { timeoutMs: 10_000 },
      )
      try {
        await client.createPermission({ host: '127.0.0.1', port: 9 })
      } finally {
        await client.close()
      }
    }
  }, 60_000)

  it('two nodes connect TURN-only through it; with a wrong password they cannot', async () => {
    const good = snippet.turn[0] as ClientSnippet['turn'][number]
    const pair = async (server: ClientSnippet['turn'][number], timeoutMs: number) => {
      const mk = () =>
        createNode({
          signaling: (identity) => mqttSignaling({ identity, brokers: snippet.brokers }),
          strategies: [turn({ servers: [server] })],
          listen: { host: '127.0.0.1' },
          connectTimeoutMs: timeoutMs,
        })
      const a = mk()
      const b = mk()
      const deadline = new Deadline(timeoutMs + 20_000, undefined, 'TURN-only pair')
      try {
        const [, bAddress] = await Promise.all([a.start(), b.start()])
        const accepted = b.accept({ signal: deadline.signal })
        accepted.catch(() => {})
        const pipe = await a.connect(bAddress, { upgrade: false })
        const inbound = await accepted
        const result = await exchange(pipe, inbound, 64 * 1024, deadline.signal)
        await Promise.all([pipe.close(), inbound.close()])
        return { strategy: pipe.strategy, verified: result.verified }
      } finally {
        deadline.dispose()
        await Promise.allSettled([a.stop(), b.stop()])
      }
    }
    expect(await pair(good, 30_000)).toEqual({ strategy: 'turn', verified: true })
    const err = await pair({ ...good, password: 'wrong' }, 8_000).catch((e) => e)
    expect(err).toMatchObject({ code: 'NODE_CONNECT_FAILED' })
    expect(err.report.stages).toEqual([
      expect.objectContaining({
        strategy: 'turn',
        outcome: 'failed',
        error: expect.objectContaining({ code: 'TURN_UNAUTHORIZED' }),
      }),
    ])
  }, 90_000)

  it('SIGTERM closes every server and exits 0 within 5 s; every port is free again', async () => {
    const t0 = performance.now()
    infra.kill('SIGTERM')
    const r = await done
    const ms = performance.now() - t0
    expect(r.code, r.stderr).toBe(0)
    expect(ms).toBeLessThan(5_000)
    expect(r.stderr).toMatch(/p2pd infra: stopped/)
    const stunPort = portOf(snippet.stun.udp[0] as string)
    const alt = Number(/\+ 127\.0\.0\.2:(\d+)/.exec(r.stderr)?.[1])
    expect(alt).toBeGreaterThan(0)
    const turnPort = (snippet.turn[0] as { port: number }).port
    const checks: Array<['udp' | 'tcp', string, number]> = [
      ['tcp', '127.0.0.1', portOf(snippet.brokers[0] as string)],
      ['udp', '127.0.0.1', portOf(snippet.ntp[0] as string)],
      ['udp', '127.0.0.1', turnPort],
      ['tcp', '127.0.0.1', turnPort],
    ]
    for (const host of ['127.0.0.1', '127.0.0.2']) {
      for (const port of [stunPort, alt]) {
        checks.push(['udp', host, port], ['tcp', host, port])
      }
    }
    for (const [proto, host, port] of checks) {
      expect(await free(proto, host, port), `${proto} ${host}:${port}`).toBe(true)
    }
  }, 30_000)
})

describe('p2pd infra: settings and failures', () => {
  it('bad flags are usage errors (exit 2) that name the problem', async () => {
    const spawned = await runCli(['infra', '--host', '127.0.0.1', '--frob'])
    expect(spawned.code).toBe(2)
    expect(spawned.stderr).toMatch(/Unknown option '--frob'/)
    expect(spawned.stderr).toMatch(/usage: p2pd infra/)
    const cases: Array<[string[], RegExp]> = [
      [['infra'], /infra needs --host IP/],
      [['infra', '--host', 'example.org'], /--host must be an IP address/],
      [['infra', '--host', '0.0.0.0'], /give --public-host/],
      [['infra', '--host', '127.0.0.1', '--alternate', '::1'], /same family/],
      [['infra', '--host', '127.0.0.1', '--alternate', '127.0.0.1'], /another IP/],
      [
        ['infra', '--host', '0.0.0.0', '--public-host', 'h.example', '--alternate', '127.0.0.2'],
        /not a wildcard/,
      ],
      [['infra', '--host', '0.0.0.0', '--public-host', 'h.example'], /give --relay-ip/],
      [
        ['infra', '--host', '127.0.0.1', '--mqtt-port', '70000'],
        /--mqtt-port must be a whole number 0–65535/,
      ],
      [['infra', '--host', '127.0.0.1', '--turn-user', 'nopass'], /--turn-user takes USER:PASS/],
      [
        ['infra', '--host', '127.0.0.1', '--turn-port', '3478'],
        /--turn-port and --stun-port are both 3478/,
      ],
      [['infra', '--host', '127.0.0.1', '--allow-peer-range', '10.0.0.1'], /CIDR/],
      [['infra', '--host', '127.0.0.1', 'extra'], /unexpected argument 'extra'/],
    ]
    for (const [args, pattern] of cases) {
      const r = await inProcess(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.err, args.join(' ')).toMatch(pattern)
      expect(r.err, args.join(' ')).toMatch(/usage: p2pd infra/)
    }
  }, 60_000)

  it('the config file\'s "infra" key is checked strictly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'p2pd-infra-'))
    try {
      const cases: Array<[unknown, RegExp]> = [
        [{ infra: { hots: '127.0.0.1' } }, /unknown key "hots"/],
        [
          { infra: { host: '127.0.0.1', ports: { mqtt: -1 } } },
          /ports\.mqtt must be a whole number/,
        ],
        [{ infra: { host: '127.0.0.1', ports: { stunn: 1 } } }, /ports: unknown key "stunn"/],
        [{ infra: { host: '127.0.0.1', users: { alice: 3 } } }, /users: "alice" needs/],
        [{ infra: [] }, /"infra" must be an object/],
      ]
      for (const [json, pattern] of cases) {
        const f = join(dir, 'c.json')
        await writeFile(f, JSON.stringify(json))
        const r = await inProcess(['infra', '--config', f])
        expect(r.code, JSON.stringify(json)).toBe(2)
        expect(r.err, JSON.stringify(json)).toMatch(pattern)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('flags win over the file; default ports; TURN users from flags replace the file', () => {
    const r = resolveInfraSettings(
      { host: '127.0.0.1', 'turn-user': ['x:y'], 'stun-port': '5000' },
      { host: '10.0.0.1', users: { alice: 'a' }, ports: { mqtt: 1884 }, realm: 'r' },
    )
    expect(r.settings.host).toBe('127.0.0.1')
    expect(r.settings.users).toEqual({ x: 'y' })
    expect(r.settings.ports).toEqual({
      mqtt: 1884,
      stun: 5000,
      stunAlt: 5001,
      ntp: 123,
      turn: 3480,
    })
    expect(r.settings.realm).toBe('r')
    expect(r.settings.peers).toEqual({ allowLoopbackPeers: false, allowPrivatePeers: false })
    expect(r.madeUpUser).toBeUndefined()
    const none = resolveInfraSettings({ host: '127.0.0.1' })
    expect(none.madeUpUser).toBe('p2pd')
    expect(none.settings.users.p2pd).toMatch(/^[0-9a-f]{24}$/)
  })

  it('a port in use exits 1 with a message naming the port and the flag to change', async () => {
    const busy = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const port = (busy.address() as { port: number }).port
    try {
      const r = await inProcess([
        'infra',
        '--host',
        '127.0.0.1',
        ...ANY_PORTS,
        '--mqtt-port',
        String(port),
      ])
      expect(r.code).toBe(1)
      expect(r.err).toMatch(new RegExp(`port ${port} is already in use`))
      expect(r.err).toMatch(/--mqtt-port/)
    } finally {
      busy.close()
    }
  }, 30_000)

  it('a STUN port in use is named too (UDP taken, TCP free)', async () => {
    const busy = createSocket('udp4')
    await new Promise<void>((resolve) => busy.bind(0, '127.0.0.1', resolve))
    const port = busy.address().port
    try {
      const r = await inProcess([
        'infra',
        '--host',
        '127.0.0.1',
        ...ANY_PORTS,
        '--stun-port',
        String(port),
      ])
      expect(r.code).toBe(1)
      expect(r.err).toMatch(
        new RegExp(`STUN 127\\.0\\.0\\.1:${port}: port ${port} is already in use`),
      )
      expect(r.err).toMatch(/--stun-port/)
    } finally {
      busy.close()
    }
  }, 30_000)

  it('the broker refuses connections over its per-IP cap', async () => {
    const broker = await startBroker('127.0.0.1', 0, { maxPerIp: 2 })
    const sockets: Socket[] = []
    try {
      const open = () =>
        new Promise<Socket>((resolve) => {
          const s = connect(broker.port, '127.0.0.1', () => resolve(s))
          sockets.push(s)
        })
      await open()
      await open()
      const third = await open()
      await new Promise((resolve) => third.once('close', resolve))
      expect(sockets[0]?.destroyed).toBe(false)
      expect(sockets[1]?.destroyed).toBe(false)
    } finally {
      for (const s of sockets) s.destroy()
      await broker.close()
    }
  }, 30_000)

  it('without --alternate: a plain binding server (no OTHER-ADDRESS, change requests refused), empty classify list; TURN refuses loopback peers by default', async () => {
    const { settings } = resolveInfraSettings({
      host: '127.0.0.1',
      'mqtt-port': '0',
      'stun-port': '0',
      'ntp-port': '0',
      'turn-port': '0',
      'turn-user': ['u:p'],
    })
    const servers = await startServers(settings)
    try {
      expect(servers.snippet.stun.classify).toEqual([])
      const stun = { host: '127.0.0.1', port: servers.ports.stun }
      const udp = await StunUdpClient.open({ localAddress: '127.0.0.1' })
      try {
        const r = await udp.binding(stun, { timeoutMs: 5_000 })
        expect(r.mapped.host).toBe('127.0.0.1')
        expect(r.attributes.otherAddress).toBeUndefined()
        // A change request is answered 420 from the same address (an RFC 5780 client, which
        // only takes the answer from the other address, sees a timeout: "not honoured").
        const answer = await rawRequest(stun, [
          attr.changeRequest({ changeIp: true, changePort: true }),
        ])
        expect(answer.cls).toBe(StunClass.ErrorResponse)
        expect(readAttributes(answer).errorCode?.code).toBe(420)
      } finally {
        await udp.close()
      }
      const tcp = await StunTcpClient.connect(stun)
      try {
        const r = await tcp.binding({ timeoutMs: 5_000 })
        expect(r.mapped.host).toBe('127.0.0.1')
        expect(r.attributes.otherAddress).toBeUndefined()
      } finally {
        await tcp.close()
      }
      const turn = servers.snippet.turn[0] as ClientSnippet['turn'][number]
      const client = await TurnClient.allocate(turn, { timeoutMs: 10_000 })
      try {
        await expect(client.createPermission({ host: '127.0.0.1', port: 9 })).rejects.toMatchObject(
          {
            code: 'TURN_FORBIDDEN',
          },
        )
      } finally {
        await client.close()
      }
    } finally {
      await servers.close()
    }
  }, 60_000)

  it('the broker closes a connection that announces an MQTT packet over the limit', () => {
    const guard = packetSizeGuard(1000)
    // CONNECT-sized packets pass, split anywhere.
    expect(guard(Buffer.from([0x10, 0x05, 1, 2]))).toBe(true)
    expect(guard(Buffer.from([3, 4, 5, 0x30]))).toBe(true)
    expect(guard(Buffer.from([0xe8, 0x07]))).toBe(true) // 1000 bytes: at the limit
    expect(guard(Buffer.alloc(1000))).toBe(true)
    expect(guard(Buffer.from([0x30, 0xe9]))).toBe(true)
    expect(guard(Buffer.from([0x07]))).toBe(false) // 1001 bytes
    expect(packetSizeGuard(1 << 30)(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff]))).toBe(false)
  })

  it('property: the packet guard passes any run of packets within the limit, split anywhere, and stops any over it', () => {
    const encodeLength = (n: number) => {
      const out: number[] = []
      do {
        let b = n % 128
        n = Math.floor(n / 128)
        if (n > 0) b |= 0x80
        out.push(b)
      } while (n > 0)
      return out
    }
    const packet = (len: number) =>
      Buffer.concat([Buffer.from([0x30, ...encodeLength(len)]), Buffer.alloc(len, 7)])
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 1 }),
        (lengths, cuts, over) => {
          const max = 2000
          const stream = Buffer.concat([
            ...lengths.map((l) => packet(Math.min(l, max))),
            ...(over ? [packet(max + 1)] : []),
          ])
          const guard = packetSizeGuard(max)
          let ok = true
          for (let at = 0, i = 0; at < stream.length && ok; i++) {
            const n = cuts[i % cuts.length] as number
            ok = guard(stream.subarray(at, at + n))
            at += n
          }
          return ok === (over === 0)
        },
      ),
    )
  })

  it('property: any "infra" value is accepted or refused with a usage error, never a crash', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseInfraFile(value, 'f.json')
        } catch (err) {
          if (!(err instanceof UsageError)) throw err
        }
        try {
          parseInfraFile({ host: '127.0.0.1', ports: value, users: value }, 'f.json')
        } catch (err) {
          if (!(err instanceof UsageError)) throw err
        }
      }),
    )
  })
})
