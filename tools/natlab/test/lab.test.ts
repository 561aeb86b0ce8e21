import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import {
  Agent,
  ALL_PROFILES,
  Lab,
  listNamespaces,
  PROBE_NAMES,
  prefixOfNamespace,
  runMatrix,
  runProbes,
  selfCheck,
  tcpDirect,
  tcpSimopen,
  validateResults,
} from '../src/index.js'
import { PACKAGE_DIR, srcFile } from '../src/node-in-ns.js'
import { bundled } from './bundle.js'
import { labSuite } from './lab-gate.js'

// The lab needs root. Off CI a non-root run skips these tests and says why; in CI they must run.
const labDescribe = labSuite('NAT lab tests')

/** Every run prefix the tests created (from the labs' own log lines). */
const prefixes = new Set<string>()
const log = (m: string) => {
  const p = /^lab (p2l[a-z0-9]{6}-)/.exec(m)?.[1]
  if (p) prefixes.add(p)
}

async function leftovers(): Promise<string[]> {
  return (await listNamespaces()).filter((ns) => {
    const p = prefixOfNamespace(ns)
    return p !== undefined && prefixes.has(p)
  })
}

labDescribe('natlab', () => {
  afterAll(async () => {
    expect(await leftovers()).toEqual([])
  })

  describe('every profile, one shared lab', () => {
    let lab: Lab | undefined
    afterAll(async () => {
      await lab?.down()
      expect(await leftovers()).toEqual([])
    })

    it('builds, seals and self-checks every profile (+ hairpin, CGNAT, second host)', async () => {
      const extra = [
        'port-restricted-drop+hairpin',
        'full-cone-rst+cgnat',
        'sym-seq1-drop+cgnat+lan2',
      ]
      lab = await Lab.up({ peers: [...ALL_PROFILES, ...extra], log })
      expect(prefixOfNamespace(lab.info.internetNs)).toBe(lab.prefix)
      const report = await selfCheck(lab.info)
      const bad = report.peers
        .filter((p) => !p.ok)
        .map((p) => `${p.profile}: ${p.mismatches.join('; ')}`)
      expect(bad).toEqual([])
      expect(report.peers).toHaveLength(ALL_PROFILES.length + extra.length)
    }, 120_000)

    it('the public side cannot reach a LAN', async () => {
      if (!lab) return expect.fail('no lab')
      const inet = await Agent.start(lab.info.internetNs)
      try {
        const s = await inet.call('udpOpen', {})
        const lanHost = lab.info.peers.find((p) => p.ns.router)?.hostIp as string
        await expect(
          inet.call('udpSend', { sock: s.sock, host: lanHost, port: 9, data: 'x' }),
        ).rejects.toThrow(/EINVAL|ENETUNREACH|EHOSTUNREACH|EPERM/)
      } finally {
        await inet.stop()
      }
    })
  })

  it('probes reproduce the physics (25 ms per router)', async () => {
    const results = await runProbes(PROBE_NAMES, { log })
    const summary = results.map(
      (r) =>
        `${r.name}: ${r.cases.map((c) => `${c.skewMs}→${c.connected ? 'ok' : c.failureReason}`).join(', ')}`,
    )
    expect(
      results.every((r) => r.ok),
      summary.join('\n'),
    ).toBe(true)
    expect(await leftovers()).toEqual([])
  }, 120_000)

  it('a reduced matrix writes the three files', async () => {
    const out = mkdtempSync(join(tmpdir(), 'natlab-matrix-'))
    try {
      const results = await runMatrix({
        // In this order the four cells make two batches of two (runMatrix batches by the
        // column − row offset); in the order open, full cone, port-restricted, seq, random: three.
        profiles: [
          'open-drop',
          'sym-seq1-drop',
          'port-restricted-rst',
          'sym-random-drop',
          'full-cone-drop',
        ],
        pairs: [
          ['port-restricted-rst', 'open-drop'],
          ['full-cone-drop', 'port-restricted-rst'],
          ['sym-seq1-drop', 'port-restricted-rst'],
          ['sym-random-drop', 'full-cone-drop'],
        ],
        strategies: [
          await bundled(tcpDirect, srcFile('runners/tcp-direct.ts')),
          await bundled(tcpSimopen, srcFile('runners/tcp-simopen.ts')),
        ],
        trials: 2,
        shape: { upMs: 5, downMs: 5 },
        options: { deadlineMs: 1500 },
        parallel: 4,
        outDir: out,
        log,
      })
      const json = validateResults(
        JSON.parse(readFileSync(join(out, 'natlab-results.json'), 'utf8')),
      )
      expect(json.cells).toHaveLength(8)
      expect(readFileSync(join(out, 'natlab-results.md'), 'utf8')).toContain('## tcp-simopen')
      expect(readFileSync(join(out, 'natlab-results.html'), 'utf8')).toContain('<table>')
      const cell = (a: string, b: string, s: string) =>
        results.cells.find((c) => c.a === a && c.b === b && c.strategy === s)?.outcome
      expect(cell('port-restricted-rst', 'open-drop', 'tcp-direct')).toBe('direct')
      expect(cell('full-cone-drop', 'port-restricted-rst', 'tcp-direct')).toBe('fail')
      expect(cell('sym-seq1-drop', 'port-restricted-rst', 'tcp-simopen')).toBe('direct')
      expect(cell('sym-random-drop', 'full-cone-drop', 'tcp-simopen')).toBe('fail')
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
    expect(await leftovers()).toEqual([])
  }, 180_000)

  it('pnpm lab up / down from separate processes leaves nothing behind', async () => {
    const run = promisify(execFile)
    const cli = [
      process.execPath,
      '--conditions=@p2pd/source',
      '--import',
      'tsx',
      join(PACKAGE_DIR, 'src/cli.ts'),
    ]
    const up = await run(
      cli[0] as string,
      [...cli.slice(1), 'up', '--profiles', 'port-restricted-rst'],
      { cwd: PACKAGE_DIR },
    )
    const prefix = /lab (p2l[a-z0-9]{6}-) is up/.exec(up.stdout)?.[1] as string
    expect(prefix).toBeDefined()
    prefixes.add(prefix)
    expect((await listNamespaces()).filter((n) => n.startsWith(prefix)).length).toBeGreaterThan(0)
    const sc = await run(cli[0] as string, [...cli.slice(1), 'selfcheck', '--prefix', prefix], {
      cwd: PACKAGE_DIR,
    })
    expect(sc.stdout).toContain('self-check passed')
    await run(cli[0] as string, [...cli.slice(1), 'down', '--prefix', prefix], { cwd: PACKAGE_DIR })
    expect((await listNamespaces()).filter((n) => n.startsWith(prefix))).toEqual([])
    expect(existsSync(`/run/p2pd-natlab/${prefix}.json`)).toBe(false)
  }, 90_000)
})
