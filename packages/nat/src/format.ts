import { deltaTypeName, natTypeName } from '@p2pd/interface'
import type { NatDiscovery } from './discover.js'

/** A few human lines describing one discovery: verdict, mapping, filtering, delta, timings. */
export function formatNatDiscovery(d: NatDiscovery): string {
  const n = d.natInfo
  const b = d.behaviour
  const delta = d.delta
    ? `${deltaTypeName[n.delta.type]}${n.delta.value ? ` ${n.delta.value > 0 ? '+' : ''}${n.delta.value}` : ''} (confidence ${d.delta.confidence.toFixed(2)})`
    : deltaTypeName[n.delta.type]
  const t = d.timings
  return [
    `${d.transport.toUpperCase()}: ${natTypeName[n.type]} (type ${n.type})`,
    `  mapped     ${b.mapped ? `${b.mapped.host}:${b.mapped.port}` : '—'} from ${b.local.host}:${b.local.port}`,
    `  mapping    ${d.mapping}   filtering ${d.filtering} (${b.filteringSource})${b.synPolicy ? `   SYN ${b.synPolicy}` : ''}`,
    `  preserving ${d.preserving}   hairpin ${d.hairpin}   delta ${delta}${n.range ? `   range ${n.range.join('–')}` : ''}`,
    `  timings    total ${t.totalMs.toFixed(0)} ms, mapping ${t.mappingMs.toFixed(0)} ms${t.filteringMs !== undefined ? `, filtering ${t.filteringMs.toFixed(0)} ms` : ''}${t.deltaMs !== undefined ? `, delta ${t.deltaMs.toFixed(0)} ms` : ''}, RTT ${t.rttMs.toFixed(1)} ms`,
    ...b.notes.map((x) => `  note       ${x}`),
  ].join('\n')
}
