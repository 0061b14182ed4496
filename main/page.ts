/**
 * The operator page at `/`: a static page that reads main's own API —
 * health, catalog, rules version, and (with the operator token typed in,
 * kept only in the tab's sessionStorage) the nodes with their status.
 */
export function operatorPage (): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reelnet main</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}th{background:#f3f3f3}.up{color:#070}.down{color:#b00}
code{font-size:12px}
</style></head><body>
<h1>reelnet main</h1>
<p id="health">loading…</p>
<h2>Catalog</h2><table id="catalog"><tr><th>item</th><th>title</th><th>size</th><th>chunks</th></tr></table>
<h2>Nodes</h2>
<p><label>operator token <input id="token" type="password" size="40"></label> <button id="load">show nodes</button></p>
<table id="nodes"><tr><th>peer</th><th>role</th><th>region</th><th>status</th><th>load</th><th>free</th><th>served</th><th>items</th><th>drained</th></tr></table>
<script>
const $ = (id) => document.getElementById(id)
const fmt = (n) => n >= 2**30 ? (n / 2**30).toFixed(1) + ' GiB' : n >= 2**20 ? (n / 2**20).toFixed(1) + ' MiB' : n + ' B'
function row (table, cells, cls) {
  const tr = document.createElement('tr')
  for (const c of cells) { const td = document.createElement('td'); td.textContent = String(c); tr.appendChild(td) }
  if (cls) tr.className = cls
  $(table).appendChild(tr)
}
async function refresh () {
  const h = await (await fetch('/healthz')).json()
  $('health').textContent = 'rules version ' + h.rulesVersion + ' · key ' + h.keyId + ' · ' + h.items + ' items · ' + h.nodes + ' nodes · up ' + h.uptimeS + ' s'
  const c = await (await fetch('/v1/catalog')).json()
  for (const i of c.items) row('catalog', [i.itemId, i.title, fmt(i.size), i.chunkCount])
}
async function nodes () {
  const token = $('token').value || sessionStorage.getItem('reelnet-operator') || ''
  sessionStorage.setItem('reelnet-operator', token)
  const res = await fetch('/v1/nodes', { headers: { authorization: 'Bearer ' + token } })
  const body = await res.json()
  const t = $('nodes'); while (t.rows.length > 1) t.deleteRow(1)
  if (!res.ok) { row('nodes', [body.error.message]); return }
  for (const n of body.nodes) {
    const served = n.bytesServed.edge + n.bytesServed.parent + n.bytesServed.peer + n.bytesServed.client
    row('nodes', [n.peerId, n.role, n.region, n.status, n.load.toFixed(2), fmt(n.freeBytes), fmt(served), n.heldItems.length, n.drained], n.status)
  }
}
$('load').onclick = nodes
refresh()
if (sessionStorage.getItem('reelnet-operator')) nodes()
</script></body></html>`
}
