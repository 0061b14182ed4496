/**
 * The operator page at `/`: plain server-rendered HTML and one small script
 * (`/operator.js`, no outside links, allowed by a strict CSP). After the
 * operator types the operator token (kept only in the tab's sessionStorage)
 * it polls `GET /v1/operator/overview` every POLL_MS and shows regions with
 * their parents and edges, items with who holds them, directives per minute
 * and recent errors; its forms mint a node token, drain or undrain a node,
 * and add an item to a region's preposition list. Every value is written
 * with textContent: titles and addresses come from outside.
 */

/** The page refreshes this often: a node that stops heartbeating shows down within the heartbeat timeout plus this. */
export const POLL_MS = 1_000

export const OPERATOR_PAGE_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export function operatorPage (): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reelnet main — operator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem 2rem;color:#222}
table{border-collapse:collapse;margin:.4rem 0 1.2rem}td,th{border:1px solid #ccc;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr.down td{background:#fde8e8}.up{color:#070;font-weight:600}.down{color:#b00;font-weight:600}tr.drained td{color:#777}
code,pre{font-size:12px}pre{background:#f6f6f6;padding:.5rem;white-space:pre-wrap;word-break:break-all}
#login-box,#controls{margin:1rem 0}section.region{margin-bottom:1rem}.bars{display:flex;align-items:flex-end;gap:2px;height:40px}
.bars div{width:10px;background:#4a7;min-height:1px}.err{color:#b00}.muted{color:#777}fieldset{display:inline-block;margin:0 1rem .5rem 0;vertical-align:top}
</style></head><body>
<h1>reelnet main</h1>
<p id="health">loading…</p>
<div id="login-box">
  <label>operator token <input id="token" type="password" size="44" autocomplete="off"></label>
  <button id="login">log in</button> <span id="login-error" class="err"></span>
</div>
<div id="app" hidden>
  <p><button id="logout">log out</button> <span id="updated" class="muted"></span></p>
  <h2>Regions</h2><div id="regions"></div>
  <h2>Items</h2>
  <p id="removed" class="muted"></p>
  <table id="items"><thead><tr><th>item</th><th>title</th><th>version</th><th>priority</th><th>size</th><th>parents holding (verified)</th><th>parents lacking space</th><th>edges holding</th><th>edges prepositioning</th><th>prepositioned in</th></tr></thead><tbody></tbody></table>
  <h2>Directives per minute</h2>
  <p>last minute: <b id="dpm">0</b> · last 15 minutes: <b id="dpm15">0</b></p><div class="bars" id="dpm-bars"></div>
  <h2>Do</h2>
  <div id="controls">
    <fieldset><legend>Add a node</legend>
      <select id="mint-role"><option value="edge">edge</option><option value="parent">parent</option></select>
      <input id="mint-region" placeholder="region, e.g. eu-west" size="14">
      <button id="mint">mint node token</button>
      <pre id="mint-command" hidden></pre>
    </fieldset>
    <fieldset><legend>Preposition an item</legend>
      <input id="prep-region" placeholder="region" size="12" list="region-names"><datalist id="region-names"></datalist>
      <select id="prep-item"></select>
      <button id="prep-add">add to the region's list</button>
    </fieldset>
    <p id="action-result" class="muted"></p>
  </div>
  <h2>Quarantined sources</h2>
  <p class="muted">Named for bad chunks by two or more distinct reporters within ten minutes; directives leave them out until cleared.</p>
  <table id="quarantine"><thead><tr><th>source</th><th>role</th><th>region</th><th>since</th><th>reporters</th><th></th></tr></thead><tbody></tbody></table>
  <h2>Recent errors</h2><ul id="errors"><li class="muted">none</li></ul>
</div>
<script src="/operator.js"></script>
</body></html>`
}

export function operatorScript (): string {
  return `'use strict'
const POLL_MS = ${POLL_MS}
const KEY = 'reelnet-operator'
const $ = (id) => document.getElementById(id)
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e }
const fmt = (n) => n >= 2 ** 40 ? (n / 2 ** 40).toFixed(1) + ' TiB' : n >= 2 ** 30 ? (n / 2 ** 30).toFixed(1) + ' GiB' : n >= 2 ** 20 ? (n / 2 ** 20).toFixed(1) + ' MiB' : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B'
const short = (id) => id.length > 16 ? '…' + id.slice(-10) : id
const age = (ms) => ms < 60000 ? (ms / 1000).toFixed(1) + ' s' : Math.round(ms / 60000) + ' min'
let token = sessionStorage.getItem(KEY) || ''
let timer

async function api (method, path, body) {
  const res = await fetch(path, { method, headers: { authorization: 'Bearer ' + token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined })
  const data = await res.json().catch(() => ({}))
  if (!res.ok) { const e = new Error((data.error && data.error.message) || ('HTTP ' + res.status)); e.status = res.status; throw e }
  return data
}

async function health () {
  try {
    const h = await (await fetch('/healthz')).json()
    $('health').textContent = 'rules version ' + h.rulesVersion + ' · key ' + h.keyId + ' · ' + h.items + ' items · ' + h.nodes + ' nodes · up ' + h.uptimeS + ' s'
  } catch { $('health').textContent = 'main is not answering' }
}

function cell (tr, text, cls, title) { const td = el('td', text, cls); if (title) td.title = title; tr.appendChild(td); return td }

function renderRegions (o) {
  const box = $('regions'); box.replaceChildren()
  const names = $('region-names'); names.replaceChildren()
  if (o.regions.length === 0) box.appendChild(el('p', 'no regions yet: mint a node token below and start a parent', 'muted'))
  for (const r of o.regions) {
    names.appendChild(Object.assign(document.createElement('option'), { value: r.name }))
    const sec = el('section', undefined, 'region'); sec.dataset.region = r.name
    const up = r.nodes.filter(n => n.status === 'up' && !n.drained).length
    sec.appendChild(el('h3', r.name + ' — ' + up + ' of ' + r.nodes.length + ' nodes serving'))
    sec.appendChild(el('p', 'preposition: ' + (r.preposition.length ? r.preposition.join(', ') : 'none'), 'muted'))
    const t = el('table'); const head = el('tr')
    for (const h of ['node', 'role', 'status', 'load', 'free', 'served to edges', 'to parents', 'to peers', 'to clients', 'last heartbeat', 'items held', 'lacking space for', '']) head.appendChild(el('th', h))
    t.appendChild(head)
    for (const n of r.nodes) {
      const tr = el('tr', undefined, n.status + (n.drained ? ' drained' : '')); tr.dataset.peer = n.peerId
      cell(tr, short(n.peerId), 'peer', n.peerId + '\\n' + n.addrs.join('\\n'))
      cell(tr, n.role)
      cell(tr, n.status + (n.drained ? ' (drained)' : '') + (n.quarantined ? ' (quarantined)' : ''), 'status ' + n.status)
      cell(tr, n.load.toFixed(2))
      cell(tr, fmt(n.freeBytes) + ' of ' + fmt(n.capacityBytes))
      for (const k of ['edge', 'parent', 'peer', 'client']) cell(tr, fmt(n.bytesServed[k]))
      cell(tr, age(n.lastHeartbeatAgeMs) + ' ago', 'age')
      cell(tr, n.heldItems)
      cell(tr, n.lacking.length ? n.lacking.map(x => x.slice(0, 8)).join(', ') : '—', 'lacking')
      const b = el('button', n.drained ? 'undrain' : 'drain', 'drain')
      b.onclick = () => act(() => api('POST', '/v1/nodes/' + encodeURIComponent(n.peerId) + '/drain', { drained: !n.drained }), (n.drained ? 'undrained ' : 'drained ') + short(n.peerId))
      const td = el('td'); td.appendChild(b); tr.appendChild(td)
      t.appendChild(tr)
    }
    sec.appendChild(t)
    box.appendChild(sec)
  }
}

function renderItems (o) {
  const body = $('items').tBodies[0]; body.replaceChildren()
  const sel = $('prep-item'); const chosen = sel.value; sel.replaceChildren()
  for (const i of o.items) {
    const tr = el('tr'); tr.dataset.item = i.itemId
    cell(tr, i.itemId.slice(0, 12) + '…', undefined, i.itemId)
    cell(tr, i.title); cell(tr, 'v' + i.version + (i.liveVersions.length > 1 ? ' (live ' + i.liveVersions.join(', ') + ')' : '')); cell(tr, String(i.priority)); cell(tr, fmt(i.size))
    cell(tr, i.parentsHolding + ' of ' + i.parents, 'parents-holding')
    cell(tr, i.parentsLacking.map(short).join(', ') || '—', 'parents-lacking')
    cell(tr, i.edgesHolding.map(short).join(', ') || '—')
    cell(tr, i.edgesPrepositioning.map(short).join(', ') || '—')
    cell(tr, i.prepositionedIn.join(', ') || '—')
    body.appendChild(tr)
    sel.appendChild(Object.assign(document.createElement('option'), { value: i.itemId, textContent: i.title + ' (' + i.itemId.slice(0, 8) + ')' }))
  }
  if (chosen) sel.value = chosen
  $('removed').textContent = o.removed.length === 0 ? '' : 'taken down: ' + o.removed.map(r => (r.title || r.itemId.slice(0, 12)) + ' (' + new Date(r.removedAt).toISOString() + (r.reason ? ', ' + r.reason : '') + ')').join('; ')
}

function renderQuarantine (o) {
  const body = $('quarantine').tBodies[0]; body.replaceChildren()
  if (o.quarantined.length === 0) { const tr = el('tr'); cell(tr, 'none', 'muted'); body.appendChild(tr) }
  for (const q of o.quarantined) {
    const tr = el('tr'); tr.dataset.peer = q.peerId
    cell(tr, short(q.peerId), 'peer', q.peerId)
    cell(tr, q.role); cell(tr, q.region)
    cell(tr, age(o.now - q.since) + ' ago')
    cell(tr, q.reporters.length, undefined, q.reporters.join('\\n'))
    const b = el('button', 'clear', 'clear')
    b.onclick = () => act(() => api('DELETE', '/v1/quarantine/' + encodeURIComponent(q.peerId)), 'cleared ' + short(q.peerId))
    const td = el('td'); td.appendChild(b); tr.appendChild(td)
    body.appendChild(tr)
  }
}

function renderActivity (o) {
  const counts = o.directivesPerMinute.map(m => m.count)
  $('dpm').textContent = String(counts[counts.length - 1] || 0)
  $('dpm15').textContent = String(counts.reduce((a, b) => a + b, 0))
  const max = Math.max(1, ...counts)
  const bars = $('dpm-bars'); bars.replaceChildren()
  for (const m of o.directivesPerMinute) { const d = el('div'); d.style.height = Math.round(40 * m.count / max) + 'px'; d.title = new Date(m.minuteStart).toLocaleTimeString() + ': ' + m.count; bars.appendChild(d) }
  const ul = $('errors'); ul.replaceChildren()
  if (o.recentErrors.length === 0) ul.appendChild(el('li', 'none', 'muted'))
  for (const e of o.recentErrors) ul.appendChild(el('li', new Date(e.at).toLocaleTimeString() + ' ' + e.level + ': ' + e.message, e.level === 'error' ? 'err' : ''))
}

let last
async function refresh () {
  clearTimeout(timer)
  try {
    last = await api('GET', '/v1/operator/overview')
    renderRegions(last); renderItems(last); renderQuarantine(last); renderActivity(last)
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString() + ' · rules v' + last.rulesVersion + ' · a node is down after ' + (last.heartbeatTimeoutMs / 1000) + ' s without a heartbeat'
  } catch (err) {
    if (err.status === 401 || err.status === 403) { logout(err.message); return }
    $('updated').textContent = 'refresh failed: ' + err.message
  }
  void health()
  timer = setTimeout(refresh, POLL_MS)
}

async function act (fn, done) {
  try { await fn(); $('action-result').textContent = done } catch (err) { $('action-result').textContent = 'failed: ' + err.message }
  await refresh()
}

function login () {
  token = $('token').value.trim() || token
  if (!token) return
  sessionStorage.setItem(KEY, token)
  $('login-error').textContent = ''
  $('login-box').hidden = true; $('app').hidden = false
  void refresh()
}
function logout (why) {
  clearTimeout(timer); token = ''; sessionStorage.removeItem(KEY)
  $('login-box').hidden = false; $('app').hidden = true
  $('login-error').textContent = typeof why === 'string' ? why : ''
}

$('login').onclick = login
$('token').onkeydown = (e) => { if (e.key === 'Enter') login() }
$('logout').onclick = () => logout()
$('mint').onclick = () => act(async () => {
  const r = await api('POST', '/v1/node-tokens', { role: $('mint-role').value, region: $('mint-region').value.trim() })
  const pre = $('mint-command'); pre.hidden = false
  pre.textContent = '# on the new ' + r.role + "'s machine (token valid for one node; unused, it expires " + new Date(r.expiresAt).toLocaleString() + '):\\n' + r.command
}, 'minted a node token')
$('prep-add').onclick = () => act(async () => {
  const region = $('prep-region').value.trim(); const itemId = $('prep-item').value
  const current = (last && last.regions.find(r => r.name === region)) ? last.regions.find(r => r.name === region).operatorPreposition : []
  await api('PUT', '/v1/regions/' + encodeURIComponent(region) + '/preposition', { itemIds: [...new Set([...current, itemId])] })
}, 'added to the preposition list')
void health()
if (token) login()
`
}
