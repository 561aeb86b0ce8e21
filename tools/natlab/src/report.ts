import type { CellOutcome, CellRecord, ColumnRecord, MatrixResults, ShapeRecord } from './schema.js'

const SYMBOL: Record<CellOutcome, string> = {
  direct: '✅',
  relayed: '🔁',
  unverified: '❔',
  partial: '🟡',
  fail: '❌',
  'lab-fault': '⚠️',
}

const COLOUR: Record<CellOutcome, string> = {
  direct: '#2e9d4f',
  relayed: '#3b73c4',
  unverified: '#8a8a8a',
  partial: '#e0b000',
  fail: '#c7372f',
  'lab-fault': '#6b3fa0',
}

function cellAt(
  r: MatrixResults,
  col: string,
  a: string,
  b: string,
  s: string,
): CellRecord | undefined {
  return r.cells.find((c) => c.column === col && c.a === a && c.b === b && c.strategy === s)
}

const oneShape = (s: ShapeRecord | null) =>
  s
    ? `${s.upMs === s.downMs ? s.upMs : `${s.upMs}/${s.downMs}`} ms` +
      (s.jitterMs ? ` (jitter ${s.jitterMs})` : '') +
      (s.loss ? ` (loss ${s.loss})` : '')
    : '0 ms'

/** A column's delay in words: `25 ms each way per router uplink`, or A's and B's. */
export function describeColumn(c: Pick<ColumnRecord, 'shape' | 'shapeB'>): string {
  const a = oneShape(c.shape)
  const b = oneShape(c.shapeB)
  if (!c.shape && !c.shapeB) return 'no delay line (0 ms)'
  return a === b
    ? `${a} each way per router uplink`
    : `A's routers ${a}, B's routers ${b} each way per uplink`
}

function short(c: CellRecord): string {
  const t = c.medianTimeToConnectMs === null ? '' : ` ${Math.round(c.medianTimeToConnectMs)}ms`
  return `${SYMBOL[c.outcome]} ${c.successes}/${c.trials}${t}`
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A Markdown report: one grid per column and strategy (rows = A, columns = B), then failures. */
export function renderMarkdown(r: MatrixResults): string {
  const L: string[] = []
  L.push('# NAT lab connectivity matrix', '')
  L.push(
    `${r.startedAt} · ${r.trialsPerCell} trial(s) per cell · ${r.columns.length} delay column(s)` +
      ` · self-check ${r.selfCheck.ok ? 'passed' : 'FAILED'} · kernel ${r.lab.kernel}` +
      (r.lab.commit ? ` · commit ${r.lab.commit}` : ''),
    '',
  )
  L.push(
    'Rows: side A (dials first), columns: side B. Cell: outcome, successes/trials, median time to connect.',
    '',
  )
  L.push(
    `Legend: ${Object.entries(SYMBOL)
      .map(([k, v]) => `${v} ${k}`)
      .join(' · ')}`,
    '',
  )
  for (const col of r.columns) {
    for (const s of r.strategies) {
      L.push(`## ${s} · ${col.name}`, '', `${describeColumn(col)}.`, '')
      L.push(`| A \\ B | ${r.profiles.join(' | ')} |`)
      L.push(`|---|${r.profiles.map(() => '---').join('|')}|`)
      for (const a of r.profiles) {
        const row = r.profiles.map((b) => {
          const c = cellAt(r, col.name, a, b, s)
          return c ? short(c) : ''
        })
        L.push(`| **${a}** | ${row.join(' | ')} |`)
      }
      L.push('')
    }
  }
  const failures = r.cells.flatMap((c) =>
    c.runs
      .filter((t) => !t.ok || !t.direct)
      .map(
        (t) =>
          `| ${c.column} | ${c.strategy} | ${c.a} | ${c.b} | ${t.index} | ${t.failureReason ?? t.path ?? ''} |`,
      ),
  )
  if (failures.length) {
    L.push('## Failures and unverified paths', '')
    L.push(
      '| column | strategy | A | B | trial | reason |',
      '|---|---|---|---|---|---|',
      ...failures,
      '',
    )
  }
  return `${L.join('\n')}\n`
}

/** A self-contained HTML page: one coloured grid per strategy (like Tailscale's grid.html). */
export function renderHtml(r: MatrixResults): string {
  const grids = r.columns
    .flatMap((col) => r.strategies.map((s) => [col, s] as const))
    .map(([col, s]) => {
      const head = r.profiles.map((b) => `<th class="col"><div>${esc(b)}</div></th>`).join('')
      const rows = r.profiles
        .map((a) => {
          const cells = r.profiles
            .map((b) => {
              const c = cellAt(r, col.name, a, b, s)
              if (!c) return '<td></td>'
              const reasons = [...new Set(c.runs.map((t) => t.failureReason).filter(Boolean))].join(
                '\n',
              )
              const title =
                `${a} → ${b} (${s}): ${c.outcome}, ${c.successes}/${c.trials} ok, ${c.directSuccesses} direct` +
                (c.medianTimeToConnectMs === null ? '' : `, median ${c.medianTimeToConnectMs} ms`) +
                (reasons ? `\n${reasons}` : '')
              const t =
                c.medianTimeToConnectMs === null
                  ? ''
                  : `<small>${Math.round(c.medianTimeToConnectMs)} ms</small>`
              return `<td style="background:${COLOUR[c.outcome]}" title="${esc(title)}">${c.successes}/${c.trials}<br>${t}</td>`
            })
            .join('')
          return `<tr><th class="row">${esc(a)}</th>${cells}</tr>`
        })
        .join('\n')
      return `<h2>${esc(col.name)}: ${esc(s)}</h2>\n<p>${esc(describeColumn(col))}</p>\n<table><tr><th class="corner">A \\ B</th>${head}</tr>\n${rows}</table>`
    })
    .join('\n')
  const legend = Object.entries(COLOUR)
    .map(([k, v]) => `<span class="key" style="background:${v}">${k}</span>`)
    .join(' ')
  const sc = r.selfCheck.peers
    .map(
      (p) =>
        `<tr><td>${esc(p.peer)}</td><td>${esc(p.profile)}</td><td>${p.ok ? 'ok' : esc(p.mismatches.join('; '))}</td><td>${p.rttConfiguredMs ?? ''}</td><td>${p.rttObservedMedianMs ?? ''}</td></tr>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>p2pd NAT lab matrix</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #fff;padding:4px 6px;text-align:center}
td{color:#fff;min-width:4.5em;font-weight:600}
th.row{text-align:right;background:#eee}
th.col{height:9em;vertical-align:bottom;background:#eee}
th.col div{writing-mode:vertical-rl;transform:rotate(180deg)}
.key{color:#fff;padding:2px 8px;border-radius:3px;margin-right:4px}
table.sc td{color:#222;border:1px solid #ccc;font-weight:400}
</style></head><body>
<h1>p2pd NAT lab — connectivity matrix</h1>
<p>${esc(r.startedAt)} · ${r.trialsPerCell} trial(s) per cell · columns ${esc(r.columns.map((c) => c.name).join(', '))} · kernel ${esc(r.lab.kernel)} · node ${esc(r.lab.node)}</p>
<p>Rows: side A (dials first); columns: side B. Hover a cell for details. ${legend}</p>
${grids}
<h2>Self-check</h2>
<table class="sc"><tr><th>peer</th><th>profile</th><th>result</th><th>RTT configured</th><th>RTT observed</th></tr>
${sc}</table>
</body></html>
`
}
