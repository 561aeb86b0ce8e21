/**
 * Every command's usage text, kept apart from the commands so that `p2pd --help`,
 * `p2pd <command> --help` and `--version` answer without loading the networking code.
 */

const NODE_OPTIONS = `node options:
  --key FILE             this node's key (default: $P2PD_KEY, the config's "key", else
                         key.json in the config directory; created 0600 on first use)
  --config FILE          config file (default: $P2PD_CONFIG, else config.json in the config
                         directory when it exists); see \`p2pd config --help\`
  --broker URL           MQTT broker for signaling (repeatable; replaces the list)
  --stun HOST:PORT       STUN server (repeatable; replaces every STUN list)
  --ntp HOST[:PORT]      NTP server (repeatable; replaces the list)
  --turn USER:PASS@HOST:PORT
                         TURN relay with long-term credentials (repeatable; none by default)
  --interfaces MODE      discover (ask STUN what peers see; default) or loopback (this
                         machine only)
  --listen-port N        TCP port of the node's listener (default: any free port)
  --timeout MS           connect deadline (default 30000)
  -v, --verbose          log what the node does on stderr`

const ALLOW = `  --allow NODE_ID        only this peer may connect (repeatable; default: anyone who has
                         the address — it carries this node's public key)`

export const SUMMARIES = {
  listen: 'wait for one peer and pipe stdin/stdout through it (like nc -l)',
  connect: 'connect to a peer and pipe stdin/stdout through it (like nc)',
  tunnel: "expose a local TCP port to peers, or reach a peer's through a local port",
  send: 'offer a file or directory; the peer fetches it with `p2pd receive`',
  receive: 'fetch what a `p2pd send` offers, verified (SHA-256), written atomically',
  daemon: 'serve a node to local programs: REST + WebSocket API with a bearer token',
  infra: 'run the servers p2pd needs (MQTT, STUN, SNTP, TURN) for your own deployment',
  config: 'print the effective configuration (flags > environment > file > defaults)',
  nat: "classify this machine's NAT against the STUN servers named",
  map: "ask this LAN's gateway to forward a port, then release it",
  addr: 'decode and explain a peer address',
  id: "print this node's ID (creates its key on first use)",
  name: 'publish a name for this node (alice.<fingerprint>), or resolve one to an address',
  demo: 'two nodes on embedded loopback servers, every strategy, verified',
} as const

export type CommandName = keyof typeof SUMMARIES

export const USAGE: Record<CommandName, string> = {
  listen: `usage: p2pd listen [--allow NODE_ID …] [node options]

Starts a node, prints its full peer address on stderr ("address: …"), waits for one peer
to connect, then copies stdin to the peer and the peer's data to stdout until both sides
have finished (each side's end of input is passed on, like a socket's half-close). Prints
each peer's node ID and how it connected on stderr. Exits 0 after a clean exchange.

options:
${ALLOW}
  -h, --help             this text

${NODE_OPTIONS}`,
  connect: `usage: p2pd connect <address|name> [node options]

Connects to the peer at <address> (what \`p2pd listen\` printed) by the fastest strategy that
works — direct, reverse, TCP hole punching, TURN if configured — then copies stdin to the
peer and the peer's data to stdout until both sides have finished. A name
(alice.<fingerprint>, see \`p2pd name\`) is resolved on the configured brokers first.

options:
  -h, --help             this text

${NODE_OPTIONS}`,
  tunnel: `usage: p2pd tunnel --expose [HOST:]PORT [--allow NODE_ID …] [node options]
       p2pd tunnel <address> --local [HOST:]PORT [node options]

The first form serves: it prints this node's address and forwards every stream a peer opens
to the local TCP service at HOST:PORT (default host 127.0.0.1), like \`ssh -R\`.
The second form listens on the local port (default host 127.0.0.1) and carries each TCP
connection to the peer's exposed service, like \`ssh -L\`. Every TCP connection gets its own
encrypted pipe; many run at once. Runs until Ctrl-C.

options:
  --expose [HOST:]PORT   the local service to offer peers
  --local [HOST:]PORT    the local port that leads to the peer's service
${ALLOW}
  -h, --help             this text

${NODE_OPTIONS}`,
  send: `usage: p2pd send <file|dir> [--allow NODE_ID …] [node options]

Offers a file or a directory: prints this node's address on stderr, waits for
\`p2pd receive <address>\` on the other machine, sends everything with a SHA-256 per file and
exits 0 once the receiver confirmed it verified and stored every file. A progress bar (bytes,
rate, ETA) is drawn on a terminal; otherwise it is quiet.

options:
${ALLOW}
  -h, --help             this text

${NODE_OPTIONS}`,
  receive: `usage: p2pd receive <address> [--out DIR] [--force] [node options]

Connects to a \`p2pd send\` and stores what it offers under DIR. Every file is written to a
temporary file next to its final name, checked against the sender's SHA-256 and only then
renamed into place: an interrupted or corrupted transfer never leaves a partial file under
the final name. Refuses to overwrite an existing file unless --force.

options:
  --out DIR              where to store (default: the current directory)
  --force                replace existing files
  -h, --help             this text

${NODE_OPTIONS}`,
  daemon: `usage: p2pd daemon [--port P] [--host H] [--token-file F] [--cors ORIGIN …]
                   [--allow-host NAME …] [--listen [--allow NODE_ID …]] [node options]

Starts a node and serves it to programs on this machine as a REST + WebSocket API on
http://127.0.0.1:12333 (P2PD's port) until Ctrl-C: connect to peers by address or name,
send and receive bytes (long-poll, or a WebSocket per pipe), list and close pipes, NAT info.
\`GET /openapi.json\` describes every endpoint. Every request needs the header
"Authorization: Bearer <token>", the token being the content of the token file (created with
32 random bytes, mode 0600, on first run). Prints the URL and the token file's path on stderr
once ready.

options:
  --port P               API port (default 12333; 0 = any free port)
  --host H               API bind address (default 127.0.0.1: this machine only)
  --token-file F         the bearer token's file (default: daemon-token beside the key)
  --cors ORIGIN          a browser origin allowed to call the API, like
                         http://localhost:5173 (repeatable; default none: browsers are
                         refused)
  --allow-host NAME      another name clients reach the API by (repeatable); requests
                         whose Host header names anything but localhost, a loopback or
                         the listen address, or such a name, are refused (DNS rebinding)
  --listen               hand pipes that peers open to this node to clients
                         (GET /incoming); without it they are refused
${ALLOW}
  -h, --help             this text

${NODE_OPTIONS}`,
  infra: `usage: p2pd infra --host IP [options]
       p2pd infra --config FILE [options]

Runs, for a team's own deployment, every server p2pd clients need: an MQTT broker (aedes)
for signaling, STUN over UDP and TCP, SNTP and a TURN relay (UDP and TCP, long-term
credentials).
With --alternate (a second IP of this machine) STUN answers RFC 5780 behaviour discovery,
so clients can classify their NAT; without it STUN is a plain binding server and the
"classify" list it prints is empty.

Once every server listens it prints, on stdout, one JSON document: a p2pd client config file
(brokers, stun, ntp, turn with the first user's credentials) pointing at --public-host.
Save it as the clients' config file (p2pd listen --config FILE, or config.json in their
config directory). Then "p2pd infra: ready" on stderr. SIGINT/SIGTERM closes every server
and exits 0. A port in use (or one below 1024 without the privilege) exits 1 naming it.

options:
  --host IP              address to listen on (required unless in the config; 0.0.0.0 or
                         :: for all, which needs --public-host and no --alternate)
  --public-host HOST     the name or IP clients reach this machine at (default: --host)
  --alternate IP         a second IP of this machine: RFC 5780 STUN on --host + IP
  --relay-ip IP          the IP TURN relays from and reports (default: --host, or
                         --public-host when --host is a wildcard)
  --mqtt-port N          MQTT broker, TCP (default 1883)
  --stun-port N          STUN, UDP and TCP (default 3478)
  --stun-alt-port N      STUN's second port with --alternate (default --stun-port + 1)
  --ntp-port N           SNTP, UDP (default 123: needs root or CAP_NET_BIND_SERVICE)
  --turn-port N          TURN, UDP and TCP (default 3480: 3478 and 3479 are STUN's)
                         (a port of 0 means any free port: for tests)
  --turn-user USER:PASS  a TURN user (repeatable; replaces the config's "users"; without
                         any, one is made up for this run and printed in the snippet)
  --realm REALM          TURN realm (default p2pd)
  --allow-peer-range CIDR
                         let TURN relay to this range even if private or reserved
                         (repeatable; TURN relays only to public addresses by default)
  --allow-private-peers  let TURN relay to private ranges (10/8, 172.16/12, 192.168/16…)
  --allow-loopback-peers let TURN relay to 127/8 and ::1 (tests on one machine only)
  --snippet FILE         also write the client config to FILE (mode 0600: it holds a password)
  --config FILE          read these settings from FILE's "infra" key (flags win):
                         { "infra": { "host": "203.0.113.5", "publicHost": "p2p.example.net",
                           "alternate": "203.0.113.6", "relayIp": "203.0.113.5",
                           "ports": { "mqtt": 1883, "stun": 3478, "stunAlt": 3479,
                                      "ntp": 123, "turn": 3480 },
                           "realm": "example.net", "users": { "alice": "…" },
                           "allowPrivatePeers": false, "allowPeerRanges": [],
                           "snippet": "/var/lib/p2pd/client.json" } }
  -h, --help             this text`,
  config: `usage: p2pd config [node options] [--show-secrets]

Prints the configuration the other commands would use, as JSON, and where each part came
from. Precedence: flags > environment > config file > built-in defaults.

config file (JSON; every key optional):
  {
    "key": "/path/to/key.json",
    "brokers": ["mqtt://host:1883", …],      signaling brokers, in order (order is wire-visible)
    "stun": {
      "classify": ["host:port", …],          RFC 5780-capable: NAT classification
      "tcp": ["host:port", …],               answer over TCP: hole punching
      "udp": ["host:port", …]                answer over UDP
    },
    "ntp": ["host[:port]", …],
    "turn": [{ "host": "…", "port": 3478, "username": "…", "password": "…" }],
    "interfaces": "discover" | "loopback",
    "listenPort": 0,
    "timeoutMs": 30000,
    "infra": { … }                            only read by \`p2pd infra\` (see its --help)
  }

environment: P2PD_CONFIG, P2PD_KEY, P2PD_BROKERS, P2PD_STUN, P2PD_NTP, P2PD_TURN
(lists comma-separated, same formats as the flags), P2PD_INTERFACES.

options:
  --show-secrets         print TURN passwords instead of "***"
  -h, --help             this text

${NODE_OPTIONS}`,
  nat: `usage: p2pd nat --server HOST:PORT [--server …] [options]
       p2pd nat --config FILE [options]

Classifies the NAT in front of this machine (RFC 5780 mapping and filtering, port delta)
against the STUN servers named, and only those, then prints what it found and the timings.
Exits 1 when no server answered (nothing could be classified).

options:
  --server HOST:PORT     a STUN server (repeatable; RFC 5780-capable ones classify fully)
  --config FILE          without --server: the file's "stun" "classify" servers (its "udp"
                         ones when none classify), e.g. what \`p2pd infra\` printed
  --transport T          udp, tcp or both (default both)
  --local IP             probe from this local address (default: the OS's choice)
  --family F             4 or 6 (default: --local's, else 6 when every server is IPv6)
  --timeout MS           deadline of the whole classification (default 3000)
  --json                 print the raw result as JSON
  -h, --help             this text`,
  map: `usage: p2pd map --port N [options]

Asks this LAN's gateway to forward a port (PCP, then NAT-PMP, then UPnP IGD), prints the grant
and deletes it again, or with --hold keeps it renewed until Ctrl-C. Answers "would port
mapping work here?"; says what each method answered when none works.

options:
  --port N               the local port to forward (1–65535, required)
  --protocol P           tcp or udp (default tcp)
  --method LIST          pcp,nat-pmp,upnp in the order to try (default all three)
  --gateway IP           the gateway to ask (default: the default route's gateway)
  --gateway-port N       its PCP/NAT-PMP port (default 5351)
  --lifetime S           requested lifetime in seconds (default 3600)
  --timeout MS           deadline per method (default 2000)
  --hold                 keep the mapping renewed until Ctrl-C, then release it
  --json                 print the grant as JSON
  -h, --help             this text`,
  addr: `usage: p2pd addr <peer-address>

Decodes a peer address (what \`p2pd listen\` prints) and explains each field: node ID,
machine ID, signaling brokers and every interface with its NAT.

options:
  -h, --help             this text`,
  id: `usage: p2pd id [--key FILE | <keyfile>] [--config FILE]

Loads this node's key, creating it on first use (mode 0600, in a 0700 directory), and prints
its node ID (what peers pass to --allow) and the key file's path. The key is found as the
other commands find it: --key > $P2PD_KEY > the config file's "key" > key.json in the config
directory ($XDG_CONFIG_HOME/p2pd or ~/.config/p2pd on Linux).

options:
  --key FILE             the key file
  --config FILE          config file whose "key" to use (default: $P2PD_CONFIG, else
                         config.json in the config directory when it exists)
  -h, --help             this text`,
  name: `usage: p2pd name set <label> [--keep] [--ttl S] [node options]
       p2pd name resolve <name> [--broker URL …] [--timeout MS]

Names instead of addresses. \`set\` starts this node and publishes a signed record
<label>.<fingerprint> → its current peer address as a retained message on every configured
broker, then prints the full name on stdout: share it once. The fingerprint is a hash of this
node's key, so nobody else can publish a valid record for the name. The label is 1–32 of
a–z 0–9 - (no - at either end). Without --keep the node stops after publishing (the address
then leads nowhere): use --keep to stay running, re-publish when the address changes and
before the record expires, until Ctrl-C.
\`resolve\` asks every broker at once, verifies each record (signature, key, expiry), prints
the newest address on stdout and the record's details on stderr. \`p2pd connect <name>\`
resolves the same way.

options:
  --keep                 stay running and keep the name current (set)
  --ttl S                record lifetime in seconds, 60–604800 (default 3600; set)
  -h, --help             this text

${NODE_OPTIONS}`,
  demo: `usage: p2pd demo [--mb N] [--only LIST] [--verbose]

Starts the embedded servers on loopback (MQTT broker, RFC 5780 STUN, SNTP, TURN), two nodes
with their own identities, connects them by each strategy and then by the automatic pipeline,
sends N MB each way, checks SHA-256 on both ends and prints a table. Exits 0 only if every
row verified. No root, no internet.

options:
  --mb N                 MB to send each way per strategy (1–1024, default 4)
  --only LIST            comma-separated subset of direct,reverse,punch,turn,auto
  -v, --verbose          log what the nodes do
  -h, --help             this text`,
}
