/** Reading PromQL for the metric names it uses (for the dashboard suite). */

/** PromQL words that are not metric names. */
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan'])

/** The metric names a PromQL expression reads: identifiers that are not functions, labels, keywords or Grafana variables. */
export function metricNames (expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges, [$__rate_interval]
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // grouping labels
    .replace(/\$\w+/g, '') // Grafana variables
    .replace(/\boffset\s+-?[0-9a-z]+/gi, '') // offset 5m
    .replace(/(^|[^A-Za-z0-9_:])\d+(\.\d+)?(e[+-]?\d+)?/gi, '$1') // numbers, 1e-9 included
  const names = new Set<string>()
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\(?))/g)) {
    const word = m[0]
    const isCall = m[1] === '('
    if (isCall || PROMQL_WORDS.has(word.toLowerCase())) continue
    names.add(word)
  }
  return [...names]
}
