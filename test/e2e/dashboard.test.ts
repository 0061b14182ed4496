/**
 * The Grafana dashboard under ops/grafana names only metrics that really exist: it parses, every panel's
 * PromQL is read for its metric names, and each one is in the /metrics of a running main (through the
 * operator token and through its separate metrics listener) or of a running parent or edge.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { metricNames } from './promql.ts'
import { ROOT, OPERATOR, cleanup, startMain, startNode, tempDir, waitFor, type NodeProc, type Proc } from './node-kit.ts'

const DASHBOARD = join(ROOT, 'ops', 'grafana', 'reelnet.json')
/** The metric families and sample names in Prometheus text. */
function exported (text: string): Set<string> {
  const out = new Set<string>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line)
    if (type !== null) {
      out.add(type[1]!)
      if (type[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(type[1]! + s)
      continue
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/.exec(line)
    if (sample !== null) out.add(sample[1]!)
  }
  return out
}

let dir: string
let main: { url: string, proc: Proc }
let parent: NodeProc
let edge: NodeProc

test.before(async () => {
  dir = await tempDir('dashboard')
  main = await startMain(dir, ['--metrics-port', '0'])
  ;[parent, edge] = await Promise.all([
    startNode(main.url, 'parent', 'eu', join(dir, 'parent'), ['--metrics-port', '0']),
    startNode(main.url, 'edge', 'eu', join(dir, 'edge'), ['--metrics-port', '0'])
  ])
})

test.after(async () => { await cleanup(dir, [parent?.proc, edge?.proc, main?.proc]) })

test('metricNames reads PromQL', () => {
  assert.equal(metricNames('sum by (to) (rate(reelnet_node_served_bytes_total{to="client"}[$__rate_interval]))'), ['reelnet_node_served_bytes_total'])
  assert.equal(metricNames('histogram_quantile(0.95, sum by (le, route) (rate(x_bucket[5m]))) / clamp_min(y, 1e-9)').sort(), ['x_bucket', 'y'])
  assert.equal(metricNames('a and on (instance) b offset 5m'), ['a', 'b'])
})

test('the dashboard parses and every expression names only metrics that main and the nodes export', async () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { title: string, panels: Array<{ type: string, title: string, targets?: Array<{ expr: string }> }> }
  assert.is(dash.title, 'reelnet')
  const exprs = dash.panels.flatMap(p => (p.targets ?? []).map(t => ({ panel: p.title, expr: t.expr })))
  assert.ok(exprs.length >= 15, `${exprs.length} expressions`)

  const metricsUrl = (p: Proc, re: RegExp): string => { const m = re.exec(p.output()); if (m === null) throw new Error('no metrics URL yet'); return m[1]! }
  let nodeUrls: string[] = []
  await waitFor('every node to print its metrics URL', async () => {
    nodeUrls = [parent, edge].map(n => metricsUrl(n.proc, /reelnet node metrics at (http:\/\/\S+)/))
    return true
  }, 30_000)
  const mainListener = metricsUrl(main.proc, /reelnet main metrics at (http:\/\/\S+)/)
  // main's heartbeat route and histogram have samples once the nodes have checked in
  await waitFor('a heartbeat to reach main', async () => /route="\/v1\/nodes\/:peerId\/heartbeat"/.test(await (await fetch(mainListener)).text()), 60_000)

  const viaToken = await fetch(`${main.url}/metrics`, { headers: { authorization: `Bearer ${OPERATOR}` } })
  assert.is(viaToken.status, 200)
  assert.is((await fetch(`${main.url}/metrics`)).status, 401, 'main\'s own port needs the token')
  const texts = [await viaToken.text(), await (await fetch(mainListener)).text(), ...await Promise.all(nodeUrls.map(async u => await (await fetch(u)).text()))]
  const known = new Set(texts.flatMap(t => [...exported(t)]))
  const missing: string[] = []
  let checked = 0
  for (const { panel, expr } of exprs) {
    const names = metricNames(expr)
    assert.ok(names.length > 0, `${panel}: no metric in '${expr}'`)
    for (const n of names) { checked++; if (!known.has(n)) missing.push(`${panel}: ${n}`) }
  }
  assert.equal(missing, [], `names no exporter has: ${missing.join('; ')}`)
  assert.ok(checked >= 20, `${checked} metric references checked`)
})

test.run()
