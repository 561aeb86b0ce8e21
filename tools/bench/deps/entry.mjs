// Copied next to the installed peers (tools/bench/.deps) so their bare names resolve there.
export { noise } from '@chainsafe/libp2p-noise'
export { yamux } from '@chainsafe/libp2p-yamux'
export { tcp } from '@libp2p/tcp'
export { multiaddr } from '@multiformats/multiaddr'
export { default as HyperDHT } from 'hyperdht'
export { default as createTestnet } from 'hyperdht/testnet.js'
export { createLibp2p } from 'libp2p'
