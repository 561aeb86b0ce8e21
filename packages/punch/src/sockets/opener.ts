import { Socket } from 'node:net'

/**
 * Opens an address-dependent filter (a restricted cone) to `host`: one SYN from each of our
 * held `ports` to `host:port`. The NAT records "this local port contacted that IP" and from then
 * on lets any port of that IP in — the random side's new mapping included. The SYN needs no
 * answer: each socket is destroyed once it is bound and its SYN is out (closing a socket in
 * SYN_SENT sends nothing), so the listener can bind the port next. Resolves within `timeoutMs`.
 */
export async function openFilter(opts: {
  readonly ports: readonly number[]
  readonly localAddress: string | undefined
  readonly host: string
  readonly port: number
  readonly timeoutMs?: number
}): Promise<void> {
  const sockets = opts.ports.map((localPort) => {
    const s = new Socket()
    s.on('error', () => {})
    s.connect({
      host: opts.host,
      port: opts.port,
      localPort,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
    })
    return { s, localPort }
  })
  // Node binds and calls connect() (which sends the SYN) on a later tick; wait until each
  // socket reports its local port, or it failed, or the time is up.
  const until = Date.now() + (opts.timeoutMs ?? 200)
  const sent = ({ s, localPort }: { s: Socket; localPort: number }) =>
    s.destroyed || s.localPort === localPort
  while (!sockets.every(sent) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 1))
  }
  for (const { s } of sockets) s.destroy()
}
