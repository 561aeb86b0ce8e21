import { nsRun, tool } from './exec.js'
import type { SynPolicy } from './profiles.js'

/**
 * The SYN policy a probe shows: an unsolicited SYN answered with a RST (the probe's connect
 * was `refused`) or not at all (`timeout`). Any other outcome (connected, an error) shows none.
 */
export function synPolicyOf(outcome: string): SynPolicy | undefined {
  return outcome === 'refused' ? 'rst' : outcome === 'timeout' ? 'drop' : undefined
}

/** What the self-check's SYN probes saw, as the agents' `tcpConnect` outcomes. */
export interface SynProbes {
  /** A SYN to a port nothing mapped or contacted from: shows the policy. */
  readonly unmapped: string
  /** A SYN from a source the NAT or firewall filters; undefined when it reached the host. */
  readonly filtered?: string
}

/**
 * Judges the SYN policy the self-check probed against the profile's `expected` one: the
 * unmapped-port SYN must show a policy, that policy must be the profile's, and a SYN the
 * filter stopped must have been treated by the same policy. Mismatches start with `label`.
 */
export function judgeSyn(
  probes: SynProbes,
  expected: SynPolicy,
  label = 'syn',
): { observed?: SynPolicy; mismatches: string[] } {
  const observed = synPolicyOf(probes.unmapped)
  if (!observed)
    return {
      mismatches: [`${label}: unexpected outcome '${probes.unmapped}' for an unmapped port`],
    }
  const mismatches: string[] = []
  if (probes.filtered !== undefined && synPolicyOf(probes.filtered) !== observed)
    mismatches.push(
      `${label}: filtered SYN got '${probes.filtered}', unmapped-port SYN '${probes.unmapped}'`,
    )
  if (observed !== expected) mismatches.push(`${label}: expected ${expected}, observed ${observed}`)
  return { observed, mismatches }
}

/** An inbound SYN a lab host recorded: source address, source port, destination port. */
export interface SeenSyn {
  readonly ip: string
  readonly sport: number
  readonly dport: number
}

/**
 * The inbound SYNs recorded on the host in namespace `ns` (the `seen` set of its
 * `natlab_host` table, `natlab_host6` for `ip6`): which probe SYNs got through the NAT.
 */
export async function seenSyns(ns: string, family: 'ip' | 'ip6'): Promise<SeenSyn[]> {
  const table = family === 'ip' ? 'natlab_host' : 'natlab_host6'
  const { stdout } = await nsRun(ns, tool('nft'), ['-j', 'list', 'set', family, table, 'seen'])
  const out: SeenSyn[] = []
  const json = JSON.parse(stdout) as { nftables: { set?: { elem?: unknown[] } }[] }
  for (const item of json.nftables) {
    for (const e of item.set?.elem ?? []) {
      // An element is { elem: { val: { concat: [...] }, … } } or a bare { concat: [...] }.
      const rec = e as { elem?: { val?: { concat?: unknown[] } }; concat?: unknown[] }
      const c = rec.elem?.val?.concat ?? rec.concat
      if (Array.isArray(c)) out.push({ ip: String(c[0]), sport: Number(c[1]), dport: Number(c[2]) })
    }
  }
  return out
}
