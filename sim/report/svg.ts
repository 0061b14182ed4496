/**
 * Small inline SVG line charts for the report: no script, no external
 * file, so report.html opens anywhere and can be mailed as one file.
 */

export interface Line {
  name: string
  /** [x, y] points in data units, x ascending. */
  points: Array<[number, number]>
}

export interface ChartOptions {
  title: string
  xLabel: string
  yLabel: string
  lines: Line[]
  /** Fix the y range (e.g. [0, 1] for ratios); default: 0 to the data's max. */
  yRange?: [number, number]
  /** A logarithmic x axis (ticks at powers of ten; points with x <= 0 are dropped): for cache sizes spanning decades. */
  xLog?: boolean
  /** Mark each point (sparse measurements such as a miss-ratio curve), if a line has few. */
  markers?: boolean
}

/** Chart size in CSS pixels; the SVG scales with its container (viewBox). */
export const CHART_WIDTH = 720
export const CHART_HEIGHT = 300
/** A line with more points than this is thinned (every n-th point) to keep the file small. */
export const MAX_POINTS_PER_LINE = 1500
/** With `markers`, a line with at most this many points gets a marker at each. */
export const MAX_MARKED_POINTS = 40

/** Legend entries per row: 150 px each across the plot. */
const LEGEND_PER_ROW = 4
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']
const M = { left: 64, right: 16, top: 28, bottom: 44 }

export function escapeXml (s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** A round number of the form 1, 2 or 5 × 10^k near range/5, for ticks. */
function tickStep (range: number): number {
  if (!(range > 0)) return 1
  const raw = range / 5
  const mag = 10 ** Math.floor(Math.log10(raw))
  const f = raw / mag
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag
}

function fmt (v: number): string {
  if (v === 0) return '0'
  const a = Math.abs(v)
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`
  return String(+v.toPrecision(3))
}

function thin (points: Array<[number, number]>): Array<[number, number]> {
  if (points.length <= MAX_POINTS_PER_LINE) return points
  const step = Math.ceil(points.length / MAX_POINTS_PER_LINE)
  return points.filter((_, i) => i % step === 0 || i === points.length - 1)
}

export function lineChart (o: ChartOptions): string {
  const W = CHART_WIDTH; const H = CHART_HEIGHT
  const pw = W - M.left - M.right; const ph = H - M.top - M.bottom
  const log = o.xLog === true
  const tx = (x: number): number => log ? Math.log10(x) : x
  const ok = ([x, y]: [number, number]): boolean => Number.isFinite(x) && Number.isFinite(y) && (!log || x > 0)
  const all = o.lines.flatMap(l => l.points).filter(ok).map(([x, y]) => [tx(x), y] as [number, number])
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(o.title)}" style="max-width:${W}px;width:100%;font:12px sans-serif">`)
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" font-weight="bold">${escapeXml(o.title)}</text>`)
  if (all.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#888">no data</text></svg>`)
    return parts.join('')
  }
  let x0 = Math.min(...all.map(p => p[0])); let x1 = Math.max(...all.map(p => p[0]))
  if (x1 === x0) x1 = x0 + 1
  let [y0, y1] = o.yRange ?? [0, Math.max(...all.map(p => p[1]))]
  if (y1 <= y0) y1 = y0 + 1
  const sx = (x: number): number => M.left + (x - x0) / (x1 - x0) * pw
  const sy = (y: number): number => M.top + ph - (y - y0) / (y1 - y0) * ph
  // grid and ticks
  const ys = tickStep(y1 - y0)
  for (let y = Math.ceil(y0 / ys) * ys; y <= y1 + 1e-9 * ys; y += ys) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#eee"/>`)
    parts.push(`<text x="${M.left - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end" fill="#555">${fmt(y)}</text>`)
  }
  const xs = log ? 1 : tickStep(x1 - x0)
  for (let x = Math.ceil(x0 / xs) * xs; x <= x1 + 1e-9 * xs; x += xs) {
    parts.push(`<line x1="${sx(x).toFixed(1)}" x2="${sx(x).toFixed(1)}" y1="${M.top}" y2="${M.top + ph}" stroke="#f3f3f3"/>`)
    parts.push(`<text x="${sx(x).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle" fill="#555">${fmt(log ? 10 ** x : x)}</text>`)
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`)
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 6}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`)
  parts.push(`<text transform="translate(14 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`)
  o.lines.forEach((l, i) => {
    const color = COLORS[i % COLORS.length]!
    const pts = thin(l.points.filter(ok).map(([x, y]) => [tx(x), y] as [number, number]))
    if (pts.length > 0) {
      const d = pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)} ${sy(Math.min(y1, Math.max(y0, y))).toFixed(1)}`).join('')
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"/>`)
      // a few points (a miss-ratio curve) are measurements: mark each
      if (o.markers === true && pts.length <= MAX_MARKED_POINTS) for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(Math.min(y1, Math.max(y0, y))).toFixed(1)}" r="3" fill="${color}"/>`)
    }
    // legends wrap after LEGEND_PER_ROW entries (a sweep's comparative charts have many lines)
    const lx = M.left + 10 + (i % LEGEND_PER_ROW) * 150
    const ly = M.top + 6 + Math.floor(i / LEGEND_PER_ROW) * 14
    parts.push(`<rect x="${lx}" y="${ly}" width="12" height="3" fill="${color}"/><text x="${lx + 16}" y="${ly + 5}">${escapeXml(l.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('')
}
