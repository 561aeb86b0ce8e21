/**
 * The connectivity matrix as one SVG image (no dependencies, a pure function of the results):
 * a grid per delay column, one cell per ordered pair (row A dials, column B accepts), coloured
 * by success rate and lettered by the winning strategy, with a legend. People read a grid at a
 * glance; the README embeds it.
 */
import type { CellRecord, ColumnRecord, MatrixResults, ShapeRecord } from './schema.js'

/** Success-rate bins, best first: a cell takes the first bin whose `min` its rate reaches. */
export const RATE_BINS: readonly {
  readonly min: number
  readonly colour: string
  readonly label: string
}[] = [
  { min: 1, colour: '#1a7f37', label: '100 %' },
  { min: 0.95, colour: '#57ab5a', label: '95–99 %' },
  { min: 0.8, colour: '#d4a72c', label: '80–94 %' },
  { min: 0.5, colour: '#e07b39', label: '50–79 %' },
  { min: Number.MIN_VALUE, colour: '#d1453b', label: '1–49 %' },
  { min: 0, colour: '#8c1d18', label: '0 %' },
]

/** Fill of a cell that was not run. */
export const NOT_RUN_COLOUR = '#eeeeee'

/** The fill for a success rate in 0…1 (`null`: not run). */
export function rateColour(rate: number | null): string {
  if (rate === null || !Number.isFinite(rate)) return NOT_RUN_COLOUR
  for (const b of RATE_BINS) if (rate >= b.min) return b.colour
  return (RATE_BINS[RATE_BINS.length - 1] as { colour: string }).colour
}

/** Letters of the node's strategies (others: their first letter, upper-cased). */
export const WINNER_LETTERS: Readonly<Record<string, string>> = {
  direct: 'D',
  reverse: 'R',
  punch: 'P',
  turn: 'T',
}

const letterOf = (w: string | null) =>
  w === null ? '?' : (WINNER_LETTERS[w] ?? (w[0] ?? '?').toUpperCase())

/**
 * A cell's mark: the winning strategies' letters, most frequent first (`P`, `PT` when some
 * trials punched and others went through TURN), `×` when no trial connected, '' when not run.
 */
export function cellMark(c: CellRecord | undefined): string {
  if (!c) return ''
  const wins = new Map<string, number>()
  for (const t of c.runs)
    if (t.ok)
      wins.set(letterOf(t.winningStrategy), (wins.get(letterOf(t.winningStrategy)) ?? 0) + 1)
  if (!wins.size) return '×'
  return [...wins.entries()]
    .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
    .map(([k]) => k)
    .join('')
}

const LEGEND_LETTERS = [
  'D direct (A dials B)',
  'R reverse (B dials A)',
  'P punch',
  'T TURN relay',
  '× none connected',
  'PT: mixed winners, most frequent first',
]

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const CELL = 26
const GAP = 30
const FONT = 'font-family="DejaVu Sans, Verdana, sans-serif"'
/** Rough width of a label at 11 px (no font metrics in a pure function). */
const textW = (s: string, px = 11) => Math.ceil(s.length * px * 0.62)

const shapeText = (s: ShapeRecord | null) =>
  s ? (s.upMs === s.downMs ? `${s.upMs} ms` : `${s.upMs}/${s.downMs} ms`) : '0 ms'

/** Subtitle of a panel: `one-way per router` or `A 5 ms · B 80 ms`. */
function panelSubtitle(c: ColumnRecord): string {
  const a = shapeText(c.shape)
  const b = shapeText(c.shapeB)
  const j = Math.max(c.shape?.jitterMs ?? 0, c.shapeB?.jitterMs ?? 0)
  return (a === b ? `${a} one-way per router` : `A ${a} · B ${b}`) + (j ? ` ±${j}` : '')
}

/** White letters on dark fills, dark on light ones. */
function inkOn(fill: string): string {
  const n = Number.parseInt(fill.slice(1), 16)
  const lum = 0.299 * ((n >> 16) & 255) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255)
  return lum < 150 ? '#ffffff' : '#1f2328'
}

export interface MatrixSvgOptions {
  /** The strategy whose cells are drawn (default `node-auto`, else the results' first). */
  readonly strategy?: string
  /** Widest the image may get before panels wrap (default 1400 px). */
  readonly maxWidth?: number
  /** First line of the image (default: "p2pd NAT lab: <strategy>"). */
  readonly title?: string
}

/**
 * Renders the results as an SVG document: one panel per delay column (wrapping at
 * `maxWidth`), each a grid of `profiles × profiles` cells, and a legend. Every cell carries a
 * `<title>` (hover text) with its counts, winners and failure reasons.
 */
export function renderMatrixSvg(r: MatrixResults, opts: MatrixSvgOptions = {}): string {
  const strategy =
    opts.strategy ?? (r.strategies.includes('node-auto') ? 'node-auto' : (r.strategies[0] ?? ''))
  const n = r.profiles.length
  const gridW = n * CELL
  const cellsAt = new Map<string, CellRecord>()
  for (const c of r.cells) if (c.strategy === strategy) cellsAt.set(`${c.column}|${c.a}|${c.b}`, c)
  const heads = r.columns.map((col) => {
    const cc = [...cellsAt.values()].filter((c) => c.column === col.name)
    const trials = cc.reduce((s, c) => s + c.trials, 0)
    const ok = cc.reduce((s, c) => s + c.successes, 0)
    return { title: `${col.name}${trials ? ` · ${ok}/${trials}` : ''}`, sub: panelSubtitle(col) }
  })
  // A panel is as wide as its grid or its heading, whichever is wider (same for all panels).
  const panelW = Math.max(
    gridW,
    ...heads.map((h) => Math.max(textW(h.title, 13), textW(h.sub, 10))),
  )
  const labelW = Math.max(40, ...r.profiles.map((p) => textW(p))) + 8
  const maxWidth = opts.maxWidth ?? 1400
  const perRow = Math.max(1, Math.floor((maxWidth - labelW - 20) / (panelW + GAP)))
  const panelRows = Math.ceil(r.columns.length / perRow)
  const titleH = 52
  const panelHeadH = 34
  const panelH = panelHeadH + labelW + gridW + 24
  const out: string[] = []
  const legendW = 100 + LEGEND_LETTERS.reduce((s, l) => s + textW(l) + 24, 0)
  const width = Math.max(
    labelW + 20 + Math.min(perRow, r.columns.length) * (panelW + GAP),
    Math.min(legendW, maxWidth),
    560,
  )
  const legendY = titleH + panelRows * panelH + 10
  const letterLines = Math.ceil(legendW / Math.max(1, width - 100))
  const height = legendY + 40 + letterLines * 16 + 36
  const title = opts.title ?? `p2pd NAT lab: ${strategy}`
  const sub =
    `${r.startedAt.slice(0, 10)} · ${r.trialsPerCell} trials per cell · rows: A (dials), columns: B (accepts)` +
    (r.lab.commit ? ` · commit ${r.lab.commit}` : '')
  // A title element first: the image's text alternative for screen readers.
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="11" role="img">`,
    `<title>${esc(`${title}: success rate and winning strategy per ordered pair, per delay column (${sub})`)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  )
  out.push(
    `<text x="10" y="22" font-size="16" font-weight="bold" fill="#1f2328">${esc(title)}</text>`,
    `<text x="10" y="40" fill="#57606a">${esc(sub)}</text>`,
  )
  r.columns.forEach((col, k) => {
    const pr = Math.floor(k / perRow)
    const pc = k % perRow
    const x0 = labelW + 10 + pc * (panelW + GAP)
    const y0 = titleH + pr * panelH
    const gy = y0 + panelHeadH + labelW
    const head = heads[k] as { title: string; sub: string }
    out.push(`<g class="panel" data-column="${esc(col.name)}">`)
    out.push(
      `<text x="${x0}" y="${y0 + 14}" font-size="13" font-weight="bold" fill="#1f2328">${esc(head.title)}</text>`,
      `<text x="${x0}" y="${y0 + 28}" font-size="10" fill="#57606a">${esc(head.sub)}</text>`,
    )
    r.profiles.forEach((b, j) => {
      const x = x0 + j * CELL + CELL / 2 + 4
      out.push(
        `<text transform="translate(${x} ${gy - 4}) rotate(-90)" fill="#1f2328">${esc(b)}</text>`,
      )
    })
    r.profiles.forEach((a, i) => {
      const y = gy + i * CELL
      if (pc === 0)
        out.push(
          `<text x="${x0 - 6}" y="${y + CELL / 2 + 4}" text-anchor="end" fill="#1f2328">${esc(a)}</text>`,
        )
      r.profiles.forEach((b, j) => {
        const c = cellsAt.get(`${col.name}|${a}|${b}`)
        const fill = rateColour(c ? c.successes / Math.max(1, c.trials) : null)
        const x = x0 + j * CELL
        const mark = cellMark(c)
        const tip = c
          ? `${a} → ${b} @ ${col.name}: ${c.successes}/${c.trials} connected, ${c.directSuccesses} verified direct` +
            (c.medianTimeToConnectMs === null
              ? ''
              : `, median ${Math.round(c.medianTimeToConnectMs)} ms`) +
            [...new Set(c.runs.map((t) => t.failureReason).filter((x): x is string => !!x))]
              .map((f) => `\n${f.slice(0, 300)}`)
              .join('')
          : `${a} → ${b} @ ${col.name}: not run`
        out.push(
          `<rect class="cell" x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="${fill}" stroke="#ffffff" stroke-width="1.5"><title>${esc(tip)}</title></rect>`,
        )
        if (mark)
          out.push(
            `<text x="${x + CELL / 2}" y="${y + CELL / 2 + 4}" text-anchor="middle" font-size="${mark.length > 1 ? 9 : 12}" font-weight="bold" fill="${inkOn(fill)}">${esc(mark)}</text>`,
          )
      })
    })
    out.push('</g>')
  })
  // Legend: colour bins, then the letters.
  let lx = 10
  out.push(
    `<text x="${lx}" y="${legendY + 12}" font-weight="bold" fill="#1f2328">success rate</text>`,
  )
  lx += 90
  for (const b of [...RATE_BINS, { colour: NOT_RUN_COLOUR, label: 'not run' }]) {
    out.push(
      `<rect class="key" x="${lx}" y="${legendY}" width="16" height="16" fill="${b.colour}" stroke="#d0d7de"/>`,
      `<text x="${lx + 20}" y="${legendY + 12}" fill="#1f2328">${esc(b.label)}</text>`,
    )
    lx += 28 + textW(b.label)
  }
  // The letters wrap onto as many lines as the width needs.
  const lines: string[][] = [[]]
  let used = 100
  for (const l of LEGEND_LETTERS) {
    const w = textW(l) + 24
    if (used + w > width && (lines.at(-1) as string[]).length) {
      lines.push([])
      used = 100
    }
    ;(lines.at(-1) as string[]).push(l)
    used += w
  }
  out.push(`<text x="10" y="${legendY + 40}" font-weight="bold" fill="#1f2328">winner</text>`)
  for (const [i, line] of lines.entries())
    out.push(
      `<text x="100" y="${legendY + 40 + i * 16}" fill="#1f2328">${esc(line.join('  ·  '))}</text>`,
    )
  const foot = legendY + 40 + lines.length * 16 + 8
  out.push(
    `<text x="10" y="${foot}" fill="#57606a">${esc('D/R/P wins are verified direct by the lab (observed addresses + router conntrack or IPv6 firewall counters).')}</text>`,
    `<text x="10" y="${foot + 16}" fill="#57606a">${esc("Hover a cell for its counts and its trials' failure reasons.")}</text>`,
  )
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
