// The API as an OpenAPI 3.1 document, served at GET /openapi.json. A test checks it against
// the daemon's real answers: every path and method here is served, every JSON answer matches.

type Schema = Record<string, unknown>

const str = (description?: string): Schema => ({
  type: 'string',
  ...(description ? { description } : {}),
})
const int = (description?: string): Schema => ({
  type: 'integer',
  ...(description ? { description } : {}),
})
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` })
const obj = (properties: Record<string, Schema>, required = Object.keys(properties)): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
})
const jsonBody = (schema: Schema, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})
const err = (name: string) => ({ $ref: `#/components/responses/${name}` })
const errorBody = (description: string) => jsonBody(ref('Error'), description)
const ID = { $ref: '#/components/parameters/PipeId' }
const TIMEOUT = {
  name: 'timeoutMs',
  in: 'query',
  required: false,
  description: 'How long to wait for something to arrive (ms, default 30000, at most 120000).',
  schema: { type: 'integer', minimum: 0, maximum: 120000 },
}

const pipeInfo = obj({
  id: str('Pipe ID, used in the /pipes/{id} paths.'),
  peer: str("The peer's node ID, proven by the handshake."),
  strategy: str('How the pipe was made: direct, reverse, punch, turn, …'),
  direction: { type: 'string', enum: ['outbound', 'inbound'] },
  buffered: int('Received bytes waiting for recv.'),
  ended: { type: 'boolean', description: 'The peer finished sending.' },
  closed: { type: 'boolean' },
  websocket: { type: 'boolean', description: 'A WebSocket holds the pipe; recv is refused.' },
  created: str('ISO 8601 time the daemon got the pipe.'),
})

const pipeRef = obj({
  pipe: str('Pipe ID.'),
  peer: str("The peer's node ID."),
  strategy: str(),
})

const iface = obj({
  family: { type: 'string', enum: ['ipv4', 'ipv6'] },
  ext: str('External IP as peers see it.'),
  nic: str('LAN-side IP.'),
  port: int("The node's TCP listen port."),
  nat: obj({
    type: int(
      'NAT type, numbered as P2PD does: 1 open, 2 symmetric UDP firewall, 3 full cone, 4 restricted cone, 5 port-restricted cone, 6 symmetric, 7 blocked.',
    ),
    delta: obj({
      type: int(
        'Port delta kind: 1 not applicable, 2 equal, 3 preserving, 4 independent, 5 dependent, 6 random.',
      ),
      value: int('Signed port step.'),
    }),
  }),
})

let cached: Record<string, unknown> | undefined

/** The OpenAPI 3.1 document describing every endpoint (built once). */
export function openApiDocument(): Record<string, unknown> {
  cached ??= build()
  return cached
}

function build(): Record<string, unknown> {
  const common = {
    '401': err('Unauthorized'),
    '403': err('Forbidden'),
    '421': err('ForeignHost'),
    '431': err('TooManyHeaders'),
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'p2pd daemon',
      version: '1',
      description:
        'A p2pd node for local programs: connect to peers by address (or name), then send and receive bytes over authenticated, encrypted pipes, by long-poll or WebSocket. Every request needs Authorization: Bearer <token>; a WebSocket may instead carry ?token=<token> or the subprotocol p2pd.token.<token>. Errors are JSON: {"error": {"code", "message"}}.',
    },
    security: [{ bearer: [] }],
    paths: {
      '/openapi.json': {
        get: {
          summary: 'This document.',
          responses: { '200': jsonBody({ type: 'object' }, 'The OpenAPI document.'), ...common },
        },
      },
      '/status': {
        get: {
          summary: 'Version, node ID, uptime and pipe count.',
          responses: { '200': jsonBody(ref('Status'), 'The daemon is running.'), ...common },
        },
      },
      '/address': {
        get: {
          summary: "This node's peer address, to hand to peers.",
          responses: { '200': jsonBody(ref('Address'), 'The address.'), ...common },
        },
      },
      '/nat': {
        get: {
          summary: 'What the node knows of the NAT in front of each interface.',
          responses: {
            '200': jsonBody(ref('Nat'), 'One entry per announced interface.'),
            ...common,
          },
        },
      },
      '/connect': {
        post: {
          summary: 'Connect to a peer by address or name; answers with a pipe ID.',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('ConnectRequest') } },
          },
          responses: {
            '200': jsonBody(ref('Connected'), 'Connected: the pipe is ready.'),
            '400': errorBody(
              'BAD_JSON, BAD_REQUEST (neither or both of address and name), BAD_ADDRESS, BAD_NAME.',
            ),
            '413': errorBody('Body too large.'),
            '404': errorBody('NAME_NOT_FOUND: no broker holds a valid record for the name.'),
            '501': errorBody('NAMES_UNAVAILABLE: this node cannot resolve names.'),
            '502': errorBody('CONNECT_FAILED: no strategy reached the peer; NAME_UNRESOLVED.'),
            '503': errorBody('TOO_MANY_PIPES, or the daemon is stopping.'),
            '504': errorBody('CONNECT_TIMEOUT.'),
            ...common,
          },
        },
      },
      '/pipes': {
        get: {
          summary: 'Every pipe the daemon holds.',
          responses: {
            '200': jsonBody(
              obj({ pipes: { type: 'array', items: ref('PipeInfo') } }),
              'The pipes.',
            ),
            ...common,
          },
        },
      },
      '/pipes/{id}': {
        parameters: [ID],
        get: {
          summary: 'One pipe.',
          responses: {
            '200': jsonBody(ref('PipeInfo'), 'The pipe.'),
            '404': err('NotFound'),
            ...common,
          },
        },
        delete: {
          summary: 'Close a pipe and forget it.',
          responses: { '204': { description: 'Closed.' }, '404': err('NotFound'), ...common },
        },
      },
      '/pipes/{id}/send': {
        parameters: [ID],
        post: {
          summary: 'Send bytes to the peer: the raw body, or JSON {"data": base64}.',
          requestBody: {
            required: true,
            content: {
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
              'application/json': {
                schema: obj({ data: { type: 'string', contentEncoding: 'base64' } }),
              },
            },
          },
          responses: {
            '200': jsonBody(obj({ sent: int('Bytes written to the pipe.') }), 'Sent.'),
            '400': errorBody('Bad JSON or base64.'),
            '404': err('NotFound'),
            '410': errorBody('PIPE_CLOSED: the pipe no longer takes data.'),
            '413': errorBody('Body too large (default limit 1 MiB).'),
            ...common,
          },
        },
      },
      '/pipes/{id}/recv': {
        parameters: [ID],
        get: {
          summary: 'Long-poll for received bytes.',
          parameters: [
            TIMEOUT,
            {
              name: 'max',
              in: 'query',
              required: false,
              description: 'Most bytes to return (default and largest 1048576).',
              schema: { type: 'integer', minimum: 1, maximum: 1048576 },
            },
          ],
          responses: {
            '200': {
              description: 'Bytes that arrived, in order.',
              content: {
                'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
              },
            },
            '204': { description: 'Nothing arrived before timeoutMs.' },
            '400': errorBody('Bad timeoutMs or max.'),
            '404': err('NotFound'),
            '409': errorBody('PIPE_IN_USE: a WebSocket holds the pipe.'),
            '410': errorBody('PIPE_EOF: the peer finished and everything was read.'),
            ...common,
          },
        },
      },
      '/pipes/{id}/ws': {
        parameters: [ID],
        get: {
          summary: 'The pipe as a WebSocket: binary messages both ways (text closes with 1003).',
          description:
            'Takes the pipe over: buffered bytes come first, recv is refused from then on. Closing the WebSocket closes the pipe; the peer finishing closes the WebSocket with 1000. Messages over 1 MiB close with 1009. Token: Authorization header, ?token=, or subprotocol p2pd.token.<token> (offer p2pd as well and the daemon selects p2pd).',
          parameters: [{ name: 'token', in: 'query', required: false, schema: { type: 'string' } }],
          responses: {
            '101': { description: 'Switching protocols: the WebSocket is open.' },
            '400': errorBody('Not a valid WebSocket upgrade.'),
            '404': err('NotFound'),
            '409': errorBody('PIPE_IN_USE: another WebSocket holds the pipe.'),
            '503': errorBody('TOO_MANY_WEBSOCKETS: the limit of open WebSockets (64) is reached.'),
            '426': errorBody(
              'UPGRADE_REQUIRED: a plain GET, or a WebSocket version other than 13.',
            ),
            ...common,
          },
        },
      },
      '/incoming': {
        get: {
          summary: 'Long-poll for the next pipe a peer opened to this node (needs --listen).',
          parameters: [TIMEOUT],
          responses: {
            '200': jsonBody(ref('PipeRef'), 'A new inbound pipe.'),
            '204': { description: 'None arrived before timeoutMs.' },
            '400': errorBody('Bad timeoutMs.'),
            ...common,
          },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      parameters: {
        PipeId: { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
      },
      responses: {
        Unauthorized: errorBody('UNAUTHORIZED: no token or a wrong one.'),
        Forbidden: errorBody('ORIGIN_FORBIDDEN: a browser origin not configured with --cors.'),
        NotFound: errorBody('PIPE_NOT_FOUND.'),
        ForeignHost: errorBody(
          'HOST_FORBIDDEN: the Host header names neither this machine nor a configured name (DNS rebinding).',
        ),
        TooManyHeaders: errorBody('TOO_MANY_HEADERS: more header lines than the limit (64).'),
      },
      schemas: {
        Error: obj({
          error: obj({ code: str('Stable, machine-readable.'), message: str('For humans.') }),
        }),
        Status: obj({
          version: str(),
          api: int('API version (1).'),
          nodeId: str(),
          uptimeMs: int(),
          pipes: int('Pipes held.'),
          incoming: { type: 'boolean', description: 'Inbound pipes are handed out (--listen).' },
          health: obj({
            status: { type: 'string', enum: ['ok', 'degraded'] },
            problems: { type: 'array', items: { type: 'string' } },
          }),
        }),
        Address: obj({ address: str('Peer address text.'), nodeId: str() }),
        Nat: obj({ interfaces: { type: 'array', items: iface } }),
        ConnectRequest: {
          ...obj(
            {
              address: str('A peer address.'),
              name: str('A name, when the node resolves names.'),
              timeoutMs: { type: 'integer', minimum: 1, maximum: 120000 },
            },
            [],
          ),
          description: 'Exactly one of address and name.',
        },
        Connected: obj({
          ...(pipeRef.properties as Record<string, Schema>),
          ms: int('Time to connect.'),
        }),
        PipeRef: pipeRef,
        PipeInfo: pipeInfo,
      },
    },
  }
}
