import { DEFAULT_BROKERS } from '@p2pd/signal-mqtt'

/**
 * The infrastructure a node uses when nothing is configured. These are third-party public
 * servers that come and go: each node checks them in parallel at start with short budgets and
 * uses the ones that answer. Run your own (`p2pd config --help`) for anything that matters.
 * No TURN relay is used unless one is configured.
 */

/** P2PD's public MQTT brokers, in P2PD's order (the index is wire-visible: never reorder). */
export const DEFAULT_BROKER_URLS: readonly string[] = DEFAULT_BROKERS

/**
 * STUN servers that answer over TCP and honour RFC 5780 change requests: NAT classification
 * and TCP hole punching. Origin: P2PD's `STUNT_SERVERS` list (IPv4, then its IPv6 entry),
 * which P2PD documents as supporting change-IP and change-port requests, in P2PD's order
 * (oldest servers first, presumed the most reliable).
 */
export const DEFAULT_STUN_CLASSIFY: readonly string[] = Object.freeze([
  'stun.stunprotocol.org:3478',
  'stun.sipnet.ru:3478',
  'stun.1cbit.ru:3478',
  'stun.acronis.com:3478',
  'stun.bitburger.de:3478',
  'stun.innovaphone.com:3478',
  'stun.onthenet.com.au:3478',
  'stun.zepter.ru:3478',
  'stun.siedle.com:3478',
])

/**
 * STUN servers reachable over TCP (hole punching needs a TCP mapping). Origin: the same
 * P2PD list, then Cloudflare's public STUN service, which answers on TCP 3478 as well.
 */
export const DEFAULT_STUN_TCP: readonly string[] = Object.freeze([
  ...DEFAULT_STUN_CLASSIFY,
  'stun.cloudflare.com:3478',
])

/**
 * STUN servers over UDP. Origin: Google's and Cloudflare's public WebRTC STUN services first
 * (large anycast deployments), then P2PD's `STUND_SERVERS` (IPv4) in P2PD's order.
 */
export const DEFAULT_STUN_UDP: readonly string[] = Object.freeze([
  'stun.l.google.com:19302',
  'stun.cloudflare.com:3478',
  'stun.stunprotocol.org:3478',
  'stun.voipcheap.co.uk:3478',
  'stun.usfamily.net:3478',
  'stun.ozekiphone.com:3478',
  'stun.voipwise.com:3478',
  'stun.mit.de:3478',
  'stun.hot-chilli.net:3478',
  'stun.counterpath.com:3478',
  'stun.sipgate.net:3478',
  'stun.ekiga.net:3478',
])

/**
 * Public NTP servers for the skew-corrected clock the punch timing relies on. Origin: P2PD's
 * `NTP_SERVERS` list (its first dozen, in its order): operators' public services and pools.
 */
export const DEFAULT_NTP: readonly string[] = Object.freeze([
  'time.google.com',
  'pool.ntp.org',
  'time.cloudflare.com',
  'time.facebook.com',
  'time.windows.com',
  'time.apple.com',
  'time.nist.gov',
  'utcnist.colorado.edu',
  'ntp2.net.berkeley.edu',
  'time.mit.edu',
  'time.stanford.edu',
  'ntp.nict.jp',
])
