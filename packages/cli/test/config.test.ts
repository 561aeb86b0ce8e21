import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isBrokerUrl } from '@p2pd/signal-mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../src/cli.js'
import { resolveConfig } from '../src/config.js'
import {
  DEFAULT_BROKER_URLS,
  DEFAULT_NTP,
  DEFAULT_STUN_CLASSIFY,
  DEFAULT_STUN_TCP,
  DEFAULT_STUN_UDP,
} from '../src/defaults.js'

// Only parsing here: no test ever contacts these public hosts.
describe('internet defaults', () => {
  it('every list parses and keeps P2PD’s broker order', () => {
    expect(DEFAULT_BROKER_URLS[0]).toBe('mqtt://54.36.178.49:1883')
    expect(DEFAULT_BROKER_URLS.every(isBrokerUrl)).toBe(true)
    for (const list of [DEFAULT_STUN_CLASSIFY, DEFAULT_STUN_TCP, DEFAULT_STUN_UDP]) {
      expect(list.length).toBeGreaterThan(0)
      for (const s of list) expect(s).toMatch(/^[a-z0-9.-]+\.[a-z]{2,}:\d{2,5}$/)
    }
    for (const s of DEFAULT_NTP) expect(s).toMatch(/^[a-z0-9.-]+\.[a-z]{2,}$/)
    expect(new Set(DEFAULT_STUN_UDP).size).toBe(DEFAULT_STUN_UDP.length)
  })
})

describe('config precedence: flags > environment > file > defaults', () => {
  let dir: string
  let file: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2pd-config-'))
    file = join(dir, 'config.json')
    await writeFile(
      file,
      JSON.stringify({
        brokers: ['mqtt://127.0.0.1:1883'],
        ntp: ['127.0.0.1:123'],
        stun: { classify: ['127.0.0.1:3478'] },
        turn: [{ host: '127.0.0.1', port: 3479, username: 'u', password: 'secret' }],
        timeoutMs: 5000,
      }),
    )
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))
  const env = (more: NodeJS.ProcessEnv = {}) => ({ XDG_CONFIG_HOME: dir, ...more })

  it('takes each key from the highest layer that sets it', async () => {
    const r = await resolveConfig(
      { config: file, broker: ['mqtt://127.0.0.2:1883'] },
      env({ P2PD_NTP: '127.0.0.3:123', P2PD_BROKERS: 'mqtt://127.0.0.4:1883' }),
    )
    expect(r.config.brokers).toEqual(['mqtt://127.0.0.2:1883'])
    expect(r.sources.brokers).toBe('flag')
    expect(r.config.ntp).toEqual(['127.0.0.3:123'])
    expect(r.sources.ntp).toBe('env')
    expect(r.config.stun.classify).toEqual(['127.0.0.1:3478'])
    expect(r.config.stun.udp).toEqual(DEFAULT_STUN_UDP)
    expect(r.sources.stun).toBe('file')
    expect(r.config.turn[0]).toMatchObject({ host: '127.0.0.1', port: 3479, username: 'u' })
    expect(r.config.timeoutMs).toBe(5000)
    expect(r.config.interfaces).toBe('discover')
    expect(r.sources.interfaces).toBe('default')
    expect(r.config.key).toBe(join(dir, 'p2pd', 'key.json'))
  })

  it('without a file or flags, the defaults: public lists, no TURN', async () => {
    const r = await resolveConfig({}, env())
    expect(r.config.brokers).toEqual(DEFAULT_BROKER_URLS)
    expect(r.config.turn).toEqual([])
    expect(r.file).toBeUndefined()
  })

  it('refuses bad values with a message that names them', async () => {
    await expect(resolveConfig({ broker: ['http://x'] }, env())).rejects.toThrow(/broker/)
    await expect(resolveConfig({ turn: ['nopass@h:1'] }, env())).rejects.toThrow(/--turn takes/)
    await expect(resolveConfig({ config: join(dir, 'missing.json') }, env())).rejects.toThrow(
      /cannot read config file/,
    )
    const typo = join(dir, 'typo.json')
    await writeFile(typo, '{"broker": []}')
    await expect(resolveConfig({ config: typo }, env())).rejects.toThrow(/unknown key "broker"/)
  })

  it('p2pd config prints the effective config with TURN passwords masked', async () => {
    const out: string[] = []
    const err: string[] = []
    const saved = process.env.XDG_CONFIG_HOME
    process.env.XDG_CONFIG_HOME = dir
    try {
      const code = await runCli(['config', '--config', file, '--stun', '127.0.0.1:9'], {
        out: (l) => out.push(l),
        err: (l) => err.push(l),
      })
      expect(code).toBe(0)
    } finally {
      process.env.XDG_CONFIG_HOME = saved
    }
    const shown = JSON.parse(out.join('\n'))
    expect(shown.turn[0].password).toBe('***')
    expect(shown.stun).toEqual({
      classify: ['127.0.0.1:9'],
      tcp: ['127.0.0.1:9'],
      udp: ['127.0.0.1:9'],
    })
    expect(err.join('\n')).toMatch(/stun=flag/)
  })

  it('accepts an "infra" key (checked strictly) beside the client keys', async () => {
    const f = join(dir, 'with-infra.json')
    await writeFile(
      f,
      JSON.stringify({ brokers: ['mqtt://127.0.0.1:1883'], infra: { host: '127.0.0.1' } }),
    )
    const r = await resolveConfig({ config: f }, env())
    expect(r.config.brokers).toEqual(['mqtt://127.0.0.1:1883'])
    await writeFile(f, JSON.stringify({ infra: { host: '127.0.0.1', prots: {} } }))
    await expect(resolveConfig({ config: f }, env())).rejects.toThrow(
      /"infra": unknown key "prots"/,
    )
  })

  it('p2pd id uses the config file\'s "key" (and --key over it)', async () => {
    const keyFile = join(dir, 'keys', 'from-config.json')
    const f = join(dir, 'with-key.json')
    await writeFile(f, JSON.stringify({ key: keyFile }))
    const run = async (args: string[]) => {
      const out: string[] = []
      const saved = { xdg: process.env.XDG_CONFIG_HOME, key: process.env.P2PD_KEY }
      process.env.XDG_CONFIG_HOME = dir
      delete process.env.P2PD_KEY
      try {
        const code = await runCli(args, { out: (l) => out.push(l), err: () => {} })
        expect(code).toBe(0)
      } finally {
        process.env.XDG_CONFIG_HOME = saved.xdg
        if (saved.key !== undefined) process.env.P2PD_KEY = saved.key
      }
      return out.join('\n')
    }
    expect(await run(['id', '--config', f])).toMatch(new RegExp(`key file +${keyFile}$`, 'm'))
    const other = join(dir, 'keys', 'flag.json')
    expect(await run(['id', '--config', f, '--key', other])).toMatch(
      new RegExp(`key file +${other}$`, 'm'),
    )
  })
})
