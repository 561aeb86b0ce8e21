import { EventEmitter } from 'node:events'
import { decodePeerAddress } from '@p2pd/address'
import { generateIdentity, type Identity, secureChannel } from '@p2pd/identity'
import {
  type Clock,
  Deadline,
  type PeerAddress,
  type Pipe,
  type RawConnection,
  type Signaling,
  type Strategy,
  type StrategyContext,
  sleep,
  systemClock,
  withDeadline,
} from '@p2pd/interface'
import type { PortMapping } from '@p2pd/portmap'
import { announce, defaultListenHost, healthOf, loopbackInterfaces } from './announce.js'
import { NodeError } from './errors.js'
import { resolveInboundLimits } from './inbound-limits.js'
import type { InboundStats } from './inbound-stats.js'
import { IncomingPipes } from './incoming.js'
import { Listener } from './listener.js'
import { machineId as osMachineId } from './machine-id.js'
import { networkFingerprint, watchNetwork } from './network-watch.js'
import type {
  ConnectedPipe,
  ConnectOptions,
  InterfaceInit,
  NodeEvents,
  NodeHealth,
  NodeInit,
} from './node-types.js'
import { looksLikeName } from './node-types.js'
import { nominate } from './nomination.js'
import { runPipeline } from './pipeline.js'
import { ListenerMapping } from './port-mapping.js'
import { superviseRelayedPipe } from './relay-recovery.js'
import { type ConnectionReport, formatReport } from './report.js'
import { Responder } from './responder.js'
import { direct } from './strategies/direct.js'
import { reverse } from './strategies/reverse.js'
import { UnsupportedWatch } from './unsupported.js'

/** Marks an upgrade's connect with the pipe it replaces (internal to the node). */
const REPLACES = Symbol('replaces')
type InternalConnectOptions = ConnectOptions & { [REPLACES]?: Pipe }
const ignore = () => {}

export type {
  ConnectedPipe,
  ConnectOptions,
  InterfaceInit,
  NodeEvents,
  NodeHealth,
  NodeInit,
  Upgrade,
} from './node-types.js'

/** Background upgrade attempts after a relayed win: how many, and how far apart (ms). */
const UPGRADE_ATTEMPTS = 3
const UPGRADE_SPACING_MS = 5_000

/**
 * A p2pd node: an identity, a listener, a signaling backend and a list of strategies, turned
 * into authenticated pipes to other nodes. Create with {@link createNode}.
 */
export class P2pdNode extends EventEmitter<NodeEvents> {
  readonly identity: Identity
  readonly signaling: Signaling
  readonly strategies: readonly Strategy[]
  /** Inbound authenticated pipes: `for await (const pipe of node.incoming)`. */
  readonly incoming = new IncomingPipes()
  readonly clock: Clock
  readonly #init: NodeInit
  readonly #log: (m: string) => void
  readonly #listener: Listener
  readonly #lifetime = new AbortController()
  #address?: PeerAddress
  #addressText?: string
  #unsubscribe?: () => void
  #port = 0
  #interfaces: readonly InterfaceInit[] = []
  readonly #portMapping?: ListenerMapping
  #health: NodeHealth = { status: 'ok', problems: [] }
  #bound?: { host: string; port: number }
  readonly #responder: Responder
  /** Every pipe this node made, so stop() can close them gracefully (with a close frame). */
  readonly #pipes = new Set<Pipe>()

  constructor(init: NodeInit) {
    super()
    this.#init = init
    this.identity = init.identity ?? generateIdentity()
    this.signaling =
      typeof init.signaling === 'function' ? init.signaling(this.identity) : init.signaling
    this.strategies = init.strategies ?? [direct(), reverse()]
    this.clock = init.clock ?? systemClock
    this.#log = init.log ?? (() => {})
    if (init.portMapping) {
      const pm = init.portMapping === true ? {} : init.portMapping
      this.#portMapping = new ListenerMapping(pm, this.#log, () => this.#rebuildAddress())
    }
    this.#listener = new Listener(
      {
        onDirect: (raw, attempt) =>
          void this.#responder.acceptRaw(raw, 'direct', undefined, attempt),
        onReject: (reason) => this.#log(`listener: dropped a connection: ${reason}`),
      },
      resolveInboundLimits(init.inbound),
      // The listener's pending attempts follow the node's lifetime through this one link.
      this.#lifetime.signal,
    )
    this.#responder = new Responder(this, {
      lifetime: this.#lifetime.signal,
      limits: this.#listener.limits,
      handshakeTimeoutMs: init.handshakeTimeoutMs ?? 5_000,
      log: this.#log,
      pipes: this.#pipes,
      started: () => this.#address !== undefined,
      context: (remote) => this.#context(remote),
      secure: (raw, strategy, expectedPeer, signal) =>
        this.#secure(raw, strategy, expectedPeer, signal),
      track: (pipe) => this.#track(pipe),
      allowed: (nodeId) => this.#allowed(nodeId),
    })
  }

  /**
   * Counters since the node was created. `inbound`: what the listener did with connections
   * strangers and peers opened to it (admitted, refused by cap, timed out by stage, …).
   */
  get stats(): { readonly inbound: InboundStats } {
    return { inbound: this.#listener.stats }
  }

  get nodeId(): string {
    return this.identity.nodeId
  }

  /** This node's peer address (after `start()`). */
  get address(): PeerAddress {
    if (!this.#address) throw new NodeError('NODE_NOT_STARTED', 'call start() first')
    return this.#address
  }

  /** The same, as peer-address text to hand to other nodes. */
  get addressText(): string {
    if (!this.#addressText) throw new NodeError('NODE_NOT_STARTED', 'call start() first')
    return this.#addressText
  }

  /**
   * Starts listening, signaling and interface discovery; resolves with the address text.
   * When discovery observed no interface (no STUN server answered), the node is
   * {@link P2pdNode.health | degraded}: it emits `'degraded'` and goes on, or, with `strict`
   * (here or in {@link NodeInit}), stops and rejects with `NODE_DEGRADED`.
   */
  async start(options: { signal?: AbortSignal; strict?: boolean } = {}): Promise<string> {
    const deadline = new Deadline(
      this.#init.startTimeoutMs ?? 10_000,
      [this.#lifetime.signal, options.signal],
      'start',
    )
    const signal = deadline.signal
    const listen = this.#init.listen ?? {}
    const [bound, interfaces] = await deadline
      .race(
        Promise.all([
          this.#listener
            .listen(listen.host ?? defaultListenHost(this.#init), listen.port ?? 0)
            .then(async (b) => {
              await this.#portMapping?.open(b.port, signal)
              return b
            }),
          this.#discover(signal, this.#init.startTimeoutMs ?? 10_000),
          this.signaling.start({ signal }),
        ]),
      )
      .finally(() => deadline.dispose())
    this.#port = bound.port
    this.#bound = bound
    this.#unsubscribe = this.signaling.subscribe((m) => void this.#responder.onSignal(m))
    this.#setAddress(interfaces)
    const health = this.#checkHealth(interfaces)
    if (health.status === 'degraded' && (options.strict ?? this.#init.strict)) {
      await this.stop()
      throw new NodeError('NODE_DEGRADED', `start: ${health.problems.join('; ')}`)
    }
    this.#log(`node ${this.nodeId.slice(0, 16)}… listening on port ${bound.port}`)
    const every = this.#init.networkCheckMs ?? 10_000
    if (every > 0) {
      watchNetwork(() => void this.refreshAddress().catch((e) => this.#log(`refresh: ${e}`)), {
        intervalMs: every,
        signal: this.#lifetime.signal,
        // Broker reconnects change the offsets the address carries, so they count too.
        fingerprint: () => `${networkFingerprint()}|${this.signaling.offsets.join(',')}`,
      })
    }
    return this.addressText
  }

  /**
   * Discovers the interfaces again and rebuilds the address; emits `'address'` when it
   * changed. Runs by itself on network changes; call it after you know something moved.
   */
  async refreshAddress(options: { signal?: AbortSignal } = {}): Promise<string> {
    const deadline = new Deadline(
      this.#init.startTimeoutMs ?? 10_000,
      [this.#lifetime.signal, options.signal],
      'address refresh',
    )
    const before = this.#addressText
    const [interfaces] = await deadline
      .race(
        Promise.all([
          this.#discover(deadline.signal, this.#init.startTimeoutMs ?? 10_000),
          this.#portMapping?.open(this.#port, deadline.signal), // again, if failed or lost
        ]),
      )
      .finally(() => deadline.dispose())
    this.#setAddress(interfaces)
    this.#checkHealth(interfaces)
    if (this.addressText !== before) {
      this.#log('address changed')
      this.emit('address', this.addressText)
    }
    return this.addressText
  }

  /**
   * Runs interface discovery within 80 % of the caller's budget, so that a discovery that
   * hears nothing ends as "no interfaces" (a degraded node) rather than as a failed start.
   */
  async #discover(signal: AbortSignal, budgetMs: number): Promise<readonly InterfaceInit[]> {
    const ifaces = this.#init.interfaces ?? loopbackInterfaces
    if (typeof ifaces !== 'function') return ifaces
    const deadline = new Deadline(budgetMs * 0.8, signal, 'interface discovery')
    try {
      return await deadline.race(ifaces(deadline.signal))
    } catch (err) {
      if (signal.aborted) throw err
      this.#log(`interface discovery: ${(err as Error).message}`)
      return []
    } finally {
      deadline.dispose()
    }
  }

  /** The mapping moved or was lost: same interfaces, new address. */
  #rebuildAddress(): void {
    if (!this.#addressText || this.#lifetime.signal.aborted) return
    const before = this.#addressText
    this.#setAddress(this.#interfaces)
    if (this.addressText !== before) this.emit('address', this.addressText)
  }

  /** The listener's bound address (after `start()`). */
  get listening(): { readonly host: string; readonly port: number } {
    if (!this.#bound) throw new NodeError('NODE_NOT_STARTED', 'call start() first')
    return this.#bound
  }

  /** Whether the node can be reached as announced; see {@link NodeHealth}. */
  get health(): NodeHealth {
    return this.#health
  }

  /** Records the node's health; emits `'degraded'` when it became so. */
  #checkHealth(interfaces: readonly InterfaceInit[]): NodeHealth {
    const health = healthOf(this.#init, interfaces)
    const changed = health.problems.join() !== this.#health.problems.join()
    this.#health = health
    if (changed && health.status === 'degraded') {
      this.#log(`degraded: ${health.problems.join('; ')}`)
      this.emit('degraded', health)
    }
    return health
  }

  /** The listener's port mapping, when `portMapping` is on and the gateway granted one. */
  get portMapping(): PortMapping | undefined {
    return this.#portMapping?.mapping
  }

  #setAddress(interfaces: readonly InterfaceInit[]): void {
    this.#interfaces = interfaces
    const { text, address } = announce({
      interfaces,
      port: this.#port,
      signal: this.signaling.offsets,
      nodeId: this.nodeId,
      machineId: this.#init.machineId ?? osMachineId(),
      ...(this.#portMapping ? { portMapping: this.#portMapping } : {}),
    })
    this.#addressText = text
    this.#address = address
  }

  /**
   * Connects to a peer (address text, decoded, or a name when the node has a `names`
   * resolver) and returns an authenticated pipe. A name is resolved within the same deadline.
   */
  async connect(
    target: string | PeerAddress,
    options: ConnectOptions = {},
  ): Promise<ConnectedPipe> {
    if (typeof target === 'string' && looksLikeName(target)) {
      return this.#connectByName(target, options)
    }
    const remote = typeof target === 'string' ? decodePeerAddress(target) : target
    if (remote.legacy) {
      throw new NodeError('NODE_LEGACY_PEER', 'a legacy P2PD node id cannot be authenticated')
    }
    const deadline = new Deadline(
      options.timeoutMs ?? this.#init.connectTimeoutMs ?? 30_000,
      [this.#lifetime.signal, options.signal],
      'connect',
    )
    const signal = deadline.signal
    const ctx = this.#context(remote)
    const refusals = new UnsupportedWatch(this.signaling, remote.nodeId)
    try {
      const { pipe, report } = await runPipeline({
        local: this.address,
        remote,
        strategies: options.strategies ?? this.strategies,
        attempt: (strategy, s) => refusals.guard(strategy, strategy.connect(ctx, s)),
        secure: async (raw, strategy, s) => {
          // A losing pipe is closed by the pipeline; what that close raises is not the app's.
          const pipe = this.#track(await this.#secure(raw, strategy.name, remote.nodeId, s))
          pipe.on('error', ignore)
          return pipe
        },
        signal,
        stageTimeoutMs: this.#init.stageTimeoutMs,
        headStartMs: this.#init.headStartMs,
      })
      pipe.off('error', ignore) // the winner is the app's from here on
      nominate(pipe, (options as InternalConnectOptions)[REPLACES])
      this.#log(formatReport(report))
      this.emit('report', report)
      const connected = Object.assign(pipe, { report })
      superviseRelayedPipe({
        node: this,
        peer: remote.nodeId,
        pipe: connected,
        lifetime: this.#lifetime.signal,
        ...(options.reconnect
          ? { reconnect: (s) => this.connect(remote, { ...options, signal: s }) }
          : {}),
        log: this.#log,
      })
      if (pipe.path.relayed && options.upgrade !== false) {
        const rest = (options.strategies ?? this.strategies).filter((s) => s.name !== pipe.strategy)
        if (rest.length > 0) void this.#upgrade(remote, connected, rest)
      }
      return connected
    } catch (err) {
      const report = (err as { report?: ConnectionReport }).report
      if (report) {
        this.#log(formatReport(report))
        this.emit('report', report)
      }
      throw err
    } finally {
      refusals.dispose()
      deadline.dispose()
    }
  }

  async #connectByName(name: string, options: ConnectOptions): Promise<ConnectedPipe> {
    const names = this.#init.names
    if (!names) {
      throw new NodeError(
        'NODE_NO_NAME_RESOLVER',
        `${name} is a name, and this node has no names resolver`,
      )
    }
    const timeoutMs = options.timeoutMs ?? this.#init.connectTimeoutMs ?? 30_000
    const started = performance.now()
    const text = await withDeadline(
      timeoutMs,
      [this.#lifetime.signal, options.signal],
      (s) => names.resolve(name, s),
      `resolve ${name}`,
    )
    const remote = decodePeerAddress(text)
    this.#log(`${name} is ${remote.nodeId.slice(0, 16)}…`)
    const left = Math.max(1, timeoutMs - (performance.now() - started))
    return this.connect(remote, { ...options, timeoutMs: left })
  }

  /**
   * The next authenticated inbound pipe: a peer connected to this node and nominated the pipe.
   *
   * - Pipes come in the order they were nominated. `node.incoming` is the same queue as an
   *   async iterable; use one or the other. At most `incoming.limit` (64) wait; more are closed.
   * - Cancellable: when `signal` aborts, the promise rejects with the typed reason and takes
   *   nothing from the queue, so no pipe is lost to an abandoned wait.
   * - Rejects with `NODE_STOPPED` once the node stops.
   * - An upgrade (a direct pipe the peer made to replace a relayed one) never comes here: it is
   *   delivered with the pipe it replaces by the `'upgraded'` event.
   */
  accept(options: { signal?: AbortSignal } = {}): Promise<Pipe> {
    return this.incoming.next(options.signal)
  }

  /** Stops everything: pipes (closed gracefully), listener, signaling, timers. */
  async stop(): Promise<void> {
    // Tearing pipes down is ours to do: errors it causes (a reset, a truncated close) must not
    // surface as unhandled 'error' events on pipes nobody listens to any more.
    for (const p of this.#pipes) p.on('error', ignore)
    this.#lifetime.abort()
    this.#unsubscribe?.()
    this.incoming.close()
    await Promise.allSettled([...this.#pipes].map((p) => p.close()))
    await Promise.allSettled([
      this.#listener.close(),
      this.signaling.close(),
      this.#portMapping?.close(),
    ])
  }

  #track<P extends Pipe>(pipe: P): P {
    this.#pipes.add(pipe)
    pipe.once('close', () => this.#pipes.delete(pipe))
    return pipe
  }

  /** After a relayed win: try the other strategies now and then until one gives a pipe. */
  async #upgrade(remote: PeerAddress, previous: ConnectedPipe, strategies: Strategy[]) {
    for (let attempt = 0; attempt < UPGRADE_ATTEMPTS; attempt++) {
      if (previous.destroyed || this.#lifetime.signal.aborted) return
      try {
        const pipe = await this.connect(remote, {
          strategies,
          upgrade: false,
          signal: this.#lifetime.signal,
          [REPLACES]: previous,
        } as InternalConnectOptions)
        if (previous.destroyed) return void pipe.close()
        this.#log(`upgraded ${previous.strategy} → ${pipe.strategy}`)
        this.emit('upgraded', { previous, pipe, role: 'initiator' })
        return
      } catch {
        await sleep(UPGRADE_SPACING_MS, this.#lifetime.signal).catch(() => {})
      }
    }
  }

  #context(remote: PeerAddress): StrategyContext {
    return {
      local: this.address,
      localText: this.addressText,
      remote,
      signaling: this.signaling,
      clock: this.clock,
      expectConnection: (token, signal) => this.#listener.expect(token, signal),
      log: this.#log,
    }
  }

  #secure(
    raw: RawConnection,
    strategy: string,
    expectedPeer: string | undefined,
    signal: AbortSignal,
  ) {
    return secureChannel(raw.stream, {
      identity: this.identity,
      // The listener accepts anyone here; the allow-list is checked right after.
      expectedPeer: expectedPeer ?? (() => true),
      initiator: raw.initiator,
      signal,
      timeoutMs: this.#init.handshakeTimeoutMs ?? 5_000,
      strategy,
      path: { local: raw.local, remote: raw.remote, relayed: raw.relayed },
    })
  }

  async #allowed(nodeId: string): Promise<boolean> {
    return nodeId !== this.nodeId && (await (this.#init.allow?.(nodeId) ?? true))
  }
}

/** Creates a node; call `start()` on it before connecting. */
export function createNode(init: NodeInit): P2pdNode {
  return new P2pdNode(init)
}
