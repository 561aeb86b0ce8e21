import type { Implementation } from '../stream.js'

export const IMPL_NAMES = ['raw', 'p2pd', 'libp2p', 'hyperdht'] as const
export type ImplName = (typeof IMPL_NAMES)[number]

/** Loaded lazily: the peers' adapters import modules that may not be installed. */
export const IMPLEMENTATIONS: Record<ImplName, () => Promise<Implementation>> = {
  raw: async () => (await import('./raw.js')).raw,
  p2pd: async () => (await import('./p2pd.js')).p2pd,
  libp2p: async () => (await import('./libp2p.js')).libp2p,
  hyperdht: async () => (await import('./hyperdht.js')).hyperdht,
}
