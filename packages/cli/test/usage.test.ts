import { describe, expect, it, vi } from 'vitest'
import type { OptionSpecs } from '../src/args.js'
import { COMMANDS, runCli as runInProcess } from '../src/cli.js'
import { USAGE } from '../src/help.js'
import { runCli } from './spawn.js'

// Records the flags each command hands the parser, to check its help names every one.
const parsed = vi.hoisted(() => [] as OptionSpecs[])
vi.mock('../src/args.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/args.js')>()
  return {
    ...real,
    parseFlags: (...args: Parameters<typeof real.parseFlags>) => {
      parsed.push(args[1])
      return real.parseFlags(...args)
    },
  }
})

describe('p2pd usage (spawned)', () => {
  it('--help lists every command, --version prints the package version', async () => {
    const [help, ver] = await Promise.all([runCli(['--help']), runCli(['--version'])])
    expect(help.code).toBe(0)
    // The commands issue #18 asks for, in this order (others may sit between them).
    const required = [
      'listen',
      'connect',
      'tunnel',
      'send',
      'receive',
      'infra',
      'config',
      'nat',
      'map',
      'addr',
      'id',
      'demo',
    ]
    expect(COMMANDS.filter((c) => required.includes(c))).toEqual(required)
    for (const c of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${c} `, 'm'))
    expect(ver.code).toBe(0)
    expect(ver.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  }, 30_000)

  it('every command has its own --help listing its flags', async () => {
    for (const name of COMMANDS) {
      const out: string[] = []
      const code = await runInProcess([name, '--help'], { out: (l) => out.push(l), err: () => {} })
      expect(code, name).toBe(0)
      expect(out.join('\n'), name).toMatch(new RegExp(`^usage: p2pd ${name}`))
      expect(out.join('\n'), name).toMatch(/-h, --help/)
    }
  }, 30_000)

  it('every flag a command accepts is in its --help', async () => {
    for (const name of COMMANDS) {
      parsed.length = 0
      // An unknown flag: the command parses its flags (recorded) and stops with a usage error.
      const code = await runInProcess([name, '--zz-no-such-flag'], { out: () => {}, err: () => {} })
      expect(code, name).toBe(2)
      for (const specs of parsed) {
        for (const [flag, spec] of Object.entries(specs)) {
          expect(USAGE[name], `${name} --${flag}`).toMatch(new RegExp(`--${flag}\\b`))
          if (spec.short)
            expect(USAGE[name], `${name} -${spec.short}`).toMatch(new RegExp(`-${spec.short},`))
        }
      }
    }
  }, 30_000)

  it('bad arguments are usage errors (exit 2) that name the problem, spawned', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frob'], /unknown command 'frob'/],
      [['demo', '--only', 'foo'], /--only takes .* not 'foo'/],
      [['demo', '--mb=-1'], /--mb must be a whole number 1–1024, not '-1'/],
      [['addr', 'a', 'b'], /unexpected argument 'b'/],
    ]
    const results = await Promise.all(cases.map(([args]) => runCli(args)))
    results.forEach((r, i) => {
      const [args, pattern] = cases[i] as [string[], RegExp]
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toMatch(pattern)
      expect(r.stderr, args.join(' ')).toMatch(/usage: p2pd/)
    })
  }, 30_000)

  it('every command, spawned with an unknown flag, exits 2 with its own usage', async () => {
    const results = await Promise.all(COMMANDS.map((c) => runCli([c, '--zz-no-such-flag'])))
    results.forEach((r, i) => {
      const name = COMMANDS[i] as string
      expect(r.code, name).toBe(2)
      expect(r.stderr, name).toMatch(/--zz-no-such-flag/)
      expect(r.stderr, name).toMatch(new RegExp(`usage: p2pd ${name}`))
    })
  }, 120_000)

  // The same dispatcher in-process: each spawn costs seconds of module loading.
  it.each<[string[], RegExp]>([
    [['demo', '--mb', '-1'], /--mb/],
    [['demo', '--mb', '0'], /--mb must be a whole number 1–1024/],
    [['demo', '--frob'], /Unknown option '--frob'/],
    [['demo', 'extra'], /unexpected argument 'extra'/],
    [['nat'], /needs at least one --server/],
    [['nat', '--server', '127.0.0.1:9', '--transport', 'sctp'], /--transport must be/],
    [['nat', '--server', '127.0.0.1:9', '--timeout', 'soon'], /--timeout must be a whole/],
    [['map'], /map needs --port/],
    [['map', '--port', '70000'], /--port must be a whole number 1–65535/],
    [['map', '--port', '80', '--method', 'igd'], /--method takes/],
    [['addr'], /needs a peer address/],
    [['id', 'a', 'b'], /unexpected argument 'b'/],
  ])('p2pd %j is a usage error', async (args, pattern) => {
    const err: string[] = []
    const code = await runInProcess(args, { out: () => {}, err: (l) => err.push(l) })
    expect(code).toBe(2)
    expect(err.join('\n')).toMatch(pattern)
  })

  it('nat exits non-zero when no STUN server answered', async () => {
    const r = await runCli(['nat', '--server', '127.0.0.1:9', '--timeout', '300'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/no STUN server answered over UDP or TCP/)
  }, 30_000)
})
