/**
 * @packageDocumentation
 * The p2pd daemon: a p2pd node served to local programs in any language as a REST +
 * WebSocket API on `http://127.0.0.1:12333` (P2PD's port). Connect to a peer by address, get
 * a pipe ID, then send and receive bytes by long-poll or over a WebSocket per pipe.
 *
 * - Every request needs `Authorization: Bearer <token>` (a WebSocket may carry the token as
 *   `?token=` or the subprotocol `p2pd.token.<token>`); the token is compared in constant time.
 * - Browsers are refused (403) unless their `Origin` is configured in `cors`.
 * - Everything is bounded: bodies (1 MiB), buffered bytes per pipe (the pipe is paused
 *   beyond), pipes, connections, WebSocket messages; every wait has a deadline.
 * - `GET /openapi.json` describes every endpoint.
 *
 * @example
 * ```ts
 * import { MemorySignalingHub } from '@p2pd/interface'
 * import { createNode } from '@p2pd/node'
 * import { startDaemon } from '@p2pd/daemon'
 *
 * const hub = new MemorySignalingHub()
 * const node = createNode({ signaling: (id) => hub.connect(id.nodeId) })
 * await node.start()
 * const daemon = await startDaemon({ node, token: 'a-long-random-secret-token', port: 0 })
 * const res = await fetch(`${daemon.url}/status`, {
 *   headers: { authorization: 'Bearer a-long-random-secret-token' },
 * })
 * console.log(await res.json()) // { version, api: 1, nodeId, uptimeMs, pipes: 0, … }
 * await daemon.close()
 * await node.stop()
 * ```
 */

export {
  type Daemon,
  type DaemonLimits,
  type DaemonOptions,
  DEFAULT_DAEMON_PORT,
  startDaemon,
} from './daemon.js'
export type { PipeInfo } from './daemon-pipe.js'
export { DaemonError, HttpError } from './errors.js'
export { openApiDocument } from './openapi.js'
export { loadOrCreateToken } from './token.js'
export { acceptKey } from './websocket.js'
export {
  CloseCode,
  closePayload,
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameLimits,
  Opcode,
  parseClosePayload,
  WsProtocolError,
} from './ws-frame.js'
