import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { judgeSyn, synPolicyOf } from '../src/syn-check.js'

const OUTCOMES = ['refused', 'timeout', 'connected', 'error'] as const

describe('SYN policy judgement (self-check, IPv4 and IPv6)', () => {
  it('reads a RST as rst and silence as drop, anything else as no policy', () => {
    expect(OUTCOMES.map(synPolicyOf)).toEqual(['rst', 'drop', undefined, undefined])
  })

  it('passes when both probes show the profile policy, or the filtered SYN got through', () => {
    expect(judgeSyn({ unmapped: 'refused', filtered: 'refused' }, 'rst')).toEqual({
      observed: 'rst',
      mismatches: [],
    })
    expect(judgeSyn({ unmapped: 'timeout' }, 'drop')).toEqual({ observed: 'drop', mismatches: [] })
  })

  it('names each way it can fail, under its label', () => {
    expect(judgeSyn({ unmapped: 'connected' }, 'rst', 'ipv6 syn').mismatches).toEqual([
      "ipv6 syn: unexpected outcome 'connected' for an unmapped port",
    ])
    expect(judgeSyn({ unmapped: 'timeout', filtered: 'refused' }, 'rst')).toEqual({
      observed: 'drop',
      mismatches: [
        "syn: filtered SYN got 'refused', unmapped-port SYN 'timeout'",
        'syn: expected rst, observed drop',
      ],
    })
  })

  it('any probe pair: ok exactly when both outcomes show the expected policy', () => {
    const outcome = fc.constantFrom(...OUTCOMES)
    fc.assert(
      fc.property(
        outcome,
        fc.option(outcome, { nil: undefined }),
        fc.constantFrom('rst' as const, 'drop' as const),
        (unmapped, filtered, expected) => {
          const r = judgeSyn({ unmapped, filtered }, expected)
          const ok =
            synPolicyOf(unmapped) === expected &&
            (filtered === undefined || synPolicyOf(filtered) === expected)
          expect(r.mismatches.length === 0).toBe(ok)
          expect(r.observed).toBe(synPolicyOf(unmapped))
        },
      ),
    )
  })
})
