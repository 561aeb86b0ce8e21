/**
 * P2PD's public MQTT brokers (`settings.py`), in P2PD's order: **the index is the signal
 * offset** that peer addresses carry, so this order is wire-visible and must never change.
 * All plain MQTT on port 1883, no TLS, no auth; 0–11 IPv4, 12–14 IPv6. They are third-party
 * public servers: pass your own list (`brokers` option) for anything that matters.
 */
export const DEFAULT_BROKERS: readonly string[] = Object.freeze([
  'mqtt://54.36.178.49:1883',
  'mqtt://35.172.255.228:1883',
  'mqtt://158.69.27.176:1883',
  'mqtt://159.223.240.227:1883',
  'mqtt://5.2.79.70:1883',
  'mqtt://34.253.103.94:1883',
  'mqtt://119.42.55.129:1883',
  'mqtt://44.232.241.40:1883',
  'mqtt://3.121.249.54:1883',
  'mqtt://3.120.46.189:1883',
  'mqtt://3.126.79.218:1883',
  'mqtt://161.35.233.32:1883',
  'mqtt://[2001:41d0:303:4831::1]:1883',
  'mqtt://[2a04:52c0:101:a90::]:1883',
  'mqtt://[2607:5300:60:80b0::1]:1883',
])

const SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:'])

/** True for a broker URL this package can use: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
export function isBrokerUrl(url: string): boolean {
  try {
    const u = new URL(url)
    return SCHEMES.has(u.protocol) && u.hostname.length > 0
  } catch {
    return false
  }
}
