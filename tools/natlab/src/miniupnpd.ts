import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type ServerProcess, spawnServer } from '@p2pd/testkit'
import { NatlabError } from './errors.js'
import { nftLoad, tool } from './exec.js'
import { miniupnpdRuleset } from './nft.js'
import { listening } from './servers.js'

/** The HTTP port of a lab router's UPnP IGD (its rootDesc is `/rootDesc.xml`). */
export const UPNP_HTTP_PORT = 5000

export interface MiniupnpdOptions {
  /** The router namespace. */
  readonly ns: string
  readonly runDir: string
  /** Config and log file names carry this (the peer label). */
  readonly label: string
  /** The lab STUN server: miniupnpd learns its external address and that it is not itself
   * behind a NAT this way, because the lab's public range (198.18/15) is "reserved". */
  readonly stun: { readonly host: string; readonly port: number }
}

/**
 * Starts Debian's miniupnpd (nftables build) in a router namespace: UPnP IGD on the LAN bridge
 * (`http://<router LAN IP>:5000/rootDesc.xml`), NAT-PMP and PCP on UDP 5351, mappings only for
 * the LAN's own hosts (secure mode) and only to ports ≥ 1024. Ready once it listens and its
 * STUN check has enabled port forwarding.
 */
export async function startMiniupnpd(opts: MiniupnpdOptions): Promise<ServerProcess> {
  await nftLoad(opts.ns, miniupnpdRuleset())
  const conf = join(opts.runDir, `miniupnpd-${opts.label}.conf`)
  writeFileSync(
    conf,
    [
      'ext_ifname=wan',
      'listening_ip=lan',
      `port=${UPNP_HTTP_PORT}`,
      'enable_natpmp=yes',
      'enable_upnp=yes',
      'ext_perform_stun=yes',
      `ext_stun_host=${opts.stun.host}`,
      `ext_stun_port=${opts.stun.port}`,
      'upnp_table_name=natlab_upnp',
      'upnp_nat_table_name=natlab_upnp',
      'upnp_forward_chain=miniupnpd',
      'upnp_nat_chain=prerouting_miniupnpd',
      'upnp_nat_postrouting_chain=postrouting_miniupnpd',
      'secure_mode=yes',
      'system_uptime=no',
      'min_lifetime=120',
      'max_lifetime=86400',
      'uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b',
      'allow 1024-65535 0.0.0.0/0 1024-65535',
      'deny 0-65535 0.0.0.0/0 0-65535',
      '',
    ].join('\n'),
    { mode: 0o644 },
  )
  const proc = await spawnServer({
    name: `miniupnpd in ${opts.ns}`,
    command: tool('ip'),
    args: [
      'netns',
      'exec',
      opts.ns,
      tool('miniupnpd'),
      '-f',
      conf,
      '-d',
      '-4',
      '-P',
      join(opts.runDir, `miniupnpd-${opts.label}.pid`),
    ],
    // It listens only after the STUN check, which then has said whether forwarding works.
    ready: async () =>
      (await listening(opts.ns, 'udp', undefined, 5351)) &&
      (await listening(opts.ns, 'tcp', undefined, UPNP_HTTP_PORT)),
    readyTimeoutMs: 10_000,
  })
  if (!proc.output().includes('Port forwarding is now enabled')) {
    await proc.stop()
    throw new NatlabError(
      'NATLAB_COMMAND',
      `miniupnpd in ${opts.ns} did not enable forwarding:\n${proc.output()}`,
    )
  }
  return proc
}
