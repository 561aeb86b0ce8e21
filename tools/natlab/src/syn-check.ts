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
