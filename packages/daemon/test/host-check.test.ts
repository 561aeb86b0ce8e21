import { networkInterfaces } from 'node:os'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DaemonError } from '../src/errors.js'
import { HostPolicy } from '../src/host-check.js'

// Which Host headers the daemon answers to (DNS rebinding), as a pure function.

function policy(listen: string, extra: string[] = [], port = 12333): HostPolicy {
  const p = new HostPolicy(listen, extra)
  p.port = port
  return p
}

describe('Host policy', () => {
  it('loopback daemon: localhost, loopback addresses and configured names, own port or none', () => {
    const p = policy('127.0.0.1', ['p2pd.internal', '10.1.2.3'])
    for (const ok of [
      'localhost',
      'localhost:12333',
      'LOCALHOST:12333',
      '127.0.0.1:12333',
      '127.0.0.1',
      '[::1]:12333',
      '[::1]',
      '[0:0:0:0:0:0:0:1]:12333',
      'p2pd.internal:12333',
      'P2PD.Internal',
      '10.1.2.3:12333',
    ]) {
      expect(p.allows(ok), ok).toBe(true)
    }
    for (const bad of [
      '',
      'evil.example',
      'evil.example:12333',
      'localhost:12334',
      'localhost:0',
      'localhost:',
      'localhost.:12333',
      'localhost.evil.example:12333',
      'evil-localhost:12333',
      '127.0.0.2:12333',
      '127.1:12333',
      '2130706433:12333',
      '0x7f.0.0.1:12333',
      '[::ffff:127.0.0.1]:12333',
      '::1',
      '[127.0.0.1]:12333',
      '[::1',
      'user@localhost:12333',
      'localhost:12333/x',
      'localhost:12333 ',
      ' localhost',
      'localhost\t',
      'localhost,evil.example',
      'localhost:12333:12333',
      'p2pd.internal.evil.example',
      '10.1.2.4:12333',
      '0.0.0.0:12333',
    ]) {
      expect(p.allows(bad), JSON.stringify(bad)).toBe(false)
    }
  })

  it('a named listen host is allowed; an all-interfaces one allows this machine’s addresses only', () => {
    expect(policy('localhost').allows('localhost:12333')).toBe(true)
    expect(policy('MyBox.lan').allows('mybox.lan:12333')).toBe(true)
    expect(policy('::1').allows('[::1]:12333')).toBe(true)
    for (const listen of ['0.0.0.0', '::', '[::]']) {
      const p = policy(listen)
      expect(p.allows('0.0.0.0:12333'), listen).toBe(false)
      expect(p.allows('[::]:12333'), listen).toBe(false)
      expect(p.allows('evil.example:12333'), listen).toBe(false)
      expect(p.allows('192.0.2.1:12333'), listen).toBe(false) // TEST-NET-1: no interface has it
      for (const list of Object.values(networkInterfaces())) {
        for (const a of list ?? []) {
          if (a.address.includes('%')) continue
          const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
          expect(p.allows(`${host}:12333`), `${listen} ${host}`).toBe(true)
        }
      }
    }
  })

  it('refuses bad configured names with DAEMON_HOSTS', () => {
    for (const bad of ['', 'evil example', 'a/b', 'x:80', '-x', 'x-', '*.example']) {
      expect(() => new HostPolicy('127.0.0.1', [bad]), bad).toThrow(DaemonError)
      try {
        new HostPolicy('127.0.0.1', [bad])
      } catch (err) {
        expect((err as DaemonError).code).toBe('DAEMON_HOSTS')
      }
    }
  })

  it('arbitrary Host values: a boolean, never a throw; unconfigured names are refused (property)', () => {
    const p = policy('127.0.0.1', ['p2pd.internal'])
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (host) => {
        expect(typeof p.allows(host)).toBe('boolean')
      }),
      { numRuns: 2_000 },
    )
    const label = fc.stringMatching(/^[a-z0-9]{1,20}$/)
    fc.assert(
      fc.property(
        fc.array(label, { minLength: 1, maxLength: 5 }),
        fc.nat(65535),
        (labels, port) => {
          const name = labels.join('.')
          fc.pre(name !== 'localhost' && name !== 'p2pd.internal' && !/^[\d.]+$/.test(name))
          expect(p.allows(name)).toBe(false)
          expect(p.allows(`${name}:${port}`)).toBe(false)
          expect(p.allows(`${name}.localhost:12333`)).toBe(false)
        },
      ),
    )
  })
})
