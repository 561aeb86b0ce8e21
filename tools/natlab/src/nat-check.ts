/**
 * `pnpm lab nat-check`: the user-facing `p2pd nat --json` run inside every NATed host of a
 * lab built for the purpose (one peer per profile, our RFC 5780 STUN server on its two IPs),
 * its verdict compared field by field with the profile's definition (see `nat-expect.ts`):
 * mapping, port behaviour, filtering over UDP and TCP (measured by dial-backs), the SYN policy
 * (drop or RST), the type code and TCP filter of the peer record, the public address.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CLI_BIN, CliProcess } from './cli-in-ns.js'
import type { LinkShape } from './delayline.js'
import { NatlabError } from './errors.js'
import { spawnInNamespace } from './exec.js'
import {
  compareNat,
  expectedNat,
  fmtSide,
  type NatExpectation,
  type NatObserved,
  readNatJson,
} from './nat-expect.js'
import { nodeTsArgv, PACKAGE_DIR } from './node-in-ns.js'
import { parseProfileList } from './profiles.js'
import { p2pdStunServer } from './servers-p2pd.js'
import { Lab, type LabInfo, type LabPeer } from './topology.js'

/** `packages/cli/dist/bin.js`: the built `p2pd`, as users run it. */
export const CLI_DIST_BIN = join(PACKAGE_DIR, '..', '..', 'packages', 'cli', 'dist', 'bin.js')

/** One profile's row. */
export interface NatCheckRow {
  readonly peer: string
  readonly profile: string
  readonly ok: boolean
  readonly expected: NatExpectation
  /** Absent when `p2pd nat` printed nothing usable (then `mismatches` says why). */
  readonly observed?: NatObserved
  readonly mismatches: readonly string[]
  /** When it read wrong: every run's full `p2pd nat --json` output (or error), for debugging. */
  readonly failedRuns?: readonly unknown[]
  /** Runs it took (a run that mismatched or failed is repeated up to `retries` times). */
  readonly tries: number
  /** Wall time of the last run, ms (process start included). */
  readonly ms: number
}

export interface NatCheckReport {
  readonly ok: boolean
  readonly prefix: string
  readonly cli: 'dist' | 'source'
  readonly rows: readonly NatCheckRow[]
  readonly ms: number
}

export interface NatCheckOptions {
  /** Profile names (one peer each); IPv4, dual-stack (IPv4 side) or `fw6`. */
  readonly profiles: readonly string[]
  readonly prefix?: string
  readonly shape?: LinkShape
  /** `dist`: the built `packages/cli/dist/bin.js`; `source` (default): `src/bin.ts` via tsx. */
  readonly cli?: 'dist' | 'source'
  /** How many `p2pd nat` processes run at once (default 4: two cores, each starts Node). */
  readonly parallel?: number
  /** `p2pd nat --timeout` (default 8000 ms; the command's own default is 3000). */
  readonly natTimeoutMs?: number
  /** Extra runs for a profile that read wrong or failed (default 1; each is reported). */
  readonly retries?: number
  readonly log?: (line: string) => void
  /** Called with each profile's result as it comes in (completion order). */
  readonly onRow?: (row: NatCheckRow) => void
}

/** Runs `p2pd nat` in every peer of a running lab (with `p2pd-stun`) and compares. */
export async function natCheckLab(
  info: LabInfo,
  opts: Omit<NatCheckOptions, 'profiles' | 'prefix' | 'shape'> = {},
): Promise<NatCheckReport> {
  const started = performance.now()
  const cli = opts.cli ?? 'source'
  if (cli === 'dist' && !existsSync(CLI_DIST_BIN))
    throw new NatlabError(
      'NATLAB_USAGE',
      `${CLI_DIST_BIN} is not built: run pnpm -r build (or use the source CLI)`,
    )
  const stun = info.servers['p2pd-stun']
  if (!stun?.stun) throw new NatlabError('NATLAB_USAGE', 'the lab has no p2pd-stun server')
  const queue = [...info.peers]
  const rows: NatCheckRow[] = []
  const worker = async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const row = await checkPeer(p, stun, cli, opts)
      opts.onRow?.(row)
      rows.push(row)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel ?? 4) }, worker))
  rows.sort((a, b) => a.peer.length - b.peer.length || a.peer.localeCompare(b.peer))
  return {
    ok: rows.every((r) => r.ok),
    prefix: info.prefix,
    cli,
    rows,
    ms: Math.round(performance.now() - started),
  }
}

/** Builds a lab (one peer per profile, our STUN server), checks every peer, tears it down. */
export async function natCheck(opts: NatCheckOptions): Promise<NatCheckReport> {
  const profiles = parseProfileList(opts.profiles.join(',')).map((p) => p.name)
  const lab = await Lab.up({
    peers: profiles,
    ...(opts.shape ? { shape: opts.shape } : {}),
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
    // Only the RFC 5780 server: `p2pd nat` asks nothing else.
    servers: [p2pdStunServer()],
    ...(opts.log ? { log: opts.log } : {}),
  })
  try {
    return await natCheckLab(lab.info, opts)
  } finally {
    await lab.down()
  }
}

type StunEndpoints = LabInfo['servers'][string]

async function checkPeer(
  peer: LabPeer,
  stun: StunEndpoints,
  cli: 'dist' | 'source',
  opts: Omit<NatCheckOptions, 'profiles'>,
): Promise<NatCheckRow> {
  const expected = expectedNat(peer.profile)
  const v6 = peer.ip === 'v6'
  const server = v6 ? stun.stun6 : stun.stun
  if (!server)
    throw new NatlabError(
      'NATLAB_USAGE',
      `the lab's p2pd-stun has no IPv6 endpoint for ${peer.label}`,
    )
  const args = [
    'nat',
    '--server',
    v6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`,
    '--local',
    peer.hostIp,
    '--timeout',
    String(opts.natTimeoutMs ?? 8000),
    '--json',
  ]
  const tries = 1 + Math.max(0, opts.retries ?? 1)
  let row: NatCheckRow | undefined
  const failedRuns: unknown[] = []
  for (let t = 1; t <= tries && !row?.ok; t++) {
    const started = performance.now()
    let observed: NatObserved | undefined
    let mismatches: string[]
    let raw: unknown
    try {
      const { code, stdout, stderr } = await runNat(peer.ns.host, args, cli)
      raw = stdout
      observed = readNatJson(stdout)
      raw = JSON.parse(stdout)
      mismatches = compareNat(expected, observed, { publicIp: peer.publicIp })
      if (code !== 0) mismatches.unshift(`exit ${code}: ${stderr.trim().slice(0, 300)}`)
    } catch (err) {
      mismatches = [`p2pd nat failed: ${(err as Error).message}`]
      raw = { error: (err as Error).message, stdout: raw }
    }
    if (mismatches.length > 0) failedRuns.push({ try: t, mismatches, output: raw })
    row = {
      peer: peer.label,
      profile: peer.profile.name,
      ok: mismatches.length === 0,
      expected,
      ...(observed ? { observed } : {}),
      mismatches,
      ...(failedRuns.length > 0 ? { failedRuns: [...failedRuns] } : {}),
      tries: t,
      ms: Math.round(performance.now() - started),
    }
  }
  return row as NatCheckRow
}

/** `p2pd ARGS` in `ns`, with none of this environment's `P2PD_*` settings; 90 s at most. */
async function runNat(
  ns: string,
  args: readonly string[],
  cli: 'dist' | 'source',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('P2PD_')),
  )
  const argv =
    cli === 'dist' ? [process.execPath, CLI_DIST_BIN, ...args] : nodeTsArgv(CLI_BIN, args)
  const child: ChildProcess = spawnInNamespace(ns, argv[0] as string, argv.slice(1), {
    cwd: PACKAGE_DIR,
    env,
  })
  const proc = new CliProcess(ns, args, child)
  try {
    const { code } = await proc.exited(90_000)
    return { code, stdout: proc.stdout.toString(), stderr: proc.stderr }
  } finally {
    await proc.stop()
  }
}

/** One line per profile: `ok`, or what differs. */
export function rowLine(r: NatCheckRow): string {
  const o = r.observed
  const seen = o
    ? `udp ${fmtSide(o.udp)} tcp ${fmtSide(o.tcp)} syn ${o.tcp.synPolicy ?? '?'} type ${o.natType}`
    : 'no verdict'
  const retry = r.tries > 1 ? ` (try ${r.tries})` : ''
  return `${r.ok ? 'ok  ' : 'FAIL'} ${r.peer.padEnd(3)} ${r.profile.padEnd(22)} ${seen} ${r.ms} ms${retry}${
    r.ok ? '' : `\n     ${r.mismatches.join('\n     ')}`
  }`
}

/** The report as a Markdown table (for the READMEs): what `p2pd nat` read, and the verdict. */
export function natCheckMarkdown(r: NatCheckReport): string {
  const lines = [
    '| profile | UDP mapping / ports / filtering | TCP mapping / ports / filtering | SYN | type | reads right |',
    '|---|---|---|---|---|---|',
  ]
  for (const row of r.rows) {
    const o = row.observed
    const verdict = row.ok ? (row.tries > 1 ? `yes (try ${row.tries})` : 'yes') : 'NO'
    lines.push(
      o
        ? `| ${row.profile} | ${fmtSide(o.udp)} | ${fmtSide(o.tcp)} | ${o.tcp.synPolicy ?? '?'} | ${o.natType} | ${verdict} |`
        : `| ${row.profile} | – | – | – | – | ${verdict} |`,
    )
  }
  return lines.join('\n')
}
