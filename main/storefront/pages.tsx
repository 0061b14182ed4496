/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
/**
 * The storefront's pages, rendered on the server with Hono JSX (which
 * escapes every value it is handed: titles and descriptions come from
 * outside). No inline script or style: the page's CSP allows only this
 * origin's /store/store.css and /store/player.js.
 */
import type { Child, FC } from 'hono/jsx'
import { raw } from 'hono/html'
import type { ItemRecord, ItemTerms, LicenseRecord } from '../store.ts'

export interface Viewer { username: string }

export interface PageProps {
  title: string
  viewer: Viewer | undefined
  csrf: string
  children?: Child
}

/** A byte count for people: 1.5 GiB, 700 MiB. */
export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return `${u === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`
}

/** A span of time for people: "1 d 23 h", "5 h 12 min", "42 s". */
export function formatSpan (ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (d > 0) return `${d} d ${h} h`
  if (h > 0) return `${h} h ${m} min`
  if (m > 0) return `${m} min ${s % 60} s`
  return `${s} s`
}

/** An exact instant, in UTC to the second (and machine-readable in the element's datetime). */
export const Instant: FC<{ at: number }> = ({ at }) => {
  const iso = new Date(at).toISOString()
  return <time datetime={iso}>{iso.slice(0, 19).replace('T', ' ')} UTC</time>
}

const CsrfField: FC<{ csrf: string }> = ({ csrf }) => <input type="hidden" name="csrf" value={csrf} />

export const Layout: FC<PageProps> = ({ title, viewer, csrf, children }) => (
  <>{raw('<!doctype html>')}<html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} — reelnet`}</title>
      <link rel="stylesheet" href="/store/store.css" />
    </head>
    <body>
      <header>
        <nav aria-label="Storefront">
          <a href="/store">Catalog</a>
          {viewer !== undefined
            ? <>
                <a href="/store/rentals">My rentals</a>
                <span class="who">{viewer.username}</span>
                <form method="post" action="/store/logout" class="inline"><CsrfField csrf={csrf} /><button type="submit">Log out</button></form>
              </>
            : <>
                <a href="/store/signup">Sign up</a>
                <a href="/store/login">Log in</a>
              </>}
        </nav>
      </header>
      <main>
        <h1>{title}</h1>
        {children}
      </main>
    </body>
  </html></>
)

export const Catalog: FC<{ items: ItemRecord[], offers?: Record<string, string> }> = ({ items, offers }) => (
  items.length === 0
    ? <p>The catalog is empty for now.</p>
    : <ul class="catalog">
        {items.map(i => (
          <li>
            {i.posterType !== undefined ? <img src={`/store/items/${i.itemId}/poster`} alt="" width="120" /> : null}
            <div>
              <h2><a href={`/store/items/${i.itemId}`}>{i.title}</a></h2>
              {i.description !== undefined ? <p>{i.description}</p> : null}
              <p class="muted">{formatBytes(i.size)}{offers?.[i.itemId] !== undefined ? <> · <span class="offer">{offers[i.itemId]}</span></> : null}</p>
            </div>
          </li>
        ))}
      </ul>
)

export const RentForm: FC<{ itemId: string, csrf: string, label?: string }> = ({ itemId, csrf }) => (
  <form method="post" action={`/store/items/${itemId}/rent`}>
    <CsrfField csrf={csrf} />
    <button type="submit">Rent</button>
  </form>
)

/** A price in minor units as a person reads it (399 EUR → 3.99 EUR). */
export function priceText (p: { amount: number, currency: string } | undefined): string {
  return p === undefined ? 'free' : `${(p.amount / 100).toFixed(2)} ${p.currency}`
}

export const Item: FC<{ item: ItemRecord, viewer: Viewer | undefined, csrf: string, rentalMs: number, active: LicenseRecord | undefined, terms?: ItemTerms, unavailable?: string }> = ({ item, viewer, csrf, rentalMs, active, terms, unavailable }) => (
  <article>
    {item.posterType !== undefined ? <img src={`/store/items/${item.itemId}/poster`} alt={`Poster of ${item.title}`} width="240" /> : null}
    {item.description !== undefined ? <p>{item.description}</p> : null}
    <dl>
      <dt>Size</dt><dd>{formatBytes(item.size)}</dd>
      <dt>Rental period</dt><dd>{formatSpan(rentalMs)}</dd>
      <dt>Price</dt><dd class="price">{priceText(terms?.rental?.price)}</dd>
      {terms?.purchase !== undefined ? <><dt>To buy</dt><dd>{priceText(terms.purchase.price)}</dd></> : null}
      {terms?.maxDevices !== undefined ? <><dt>Devices</dt><dd>{terms.maxDevices}</dd></> : null}
      {terms?.availableUntil !== undefined ? <><dt>Available until</dt><dd><Instant at={terms.availableUntil} /></dd></> : null}
    </dl>
    {active === undefined && unavailable !== undefined
      ? <p class="unavailable" role="status">{unavailable}</p>
      : active !== undefined
      ? <p>You have rented this until <Instant at={active.expiresAt} />. <a href={`/store/watch/${active.licenseId}`}>Watch</a></p>
      : viewer !== undefined
        ? <RentForm itemId={item.itemId} csrf={csrf} />
        : <p><a href="/store/login">Log in</a> or <a href="/store/signup">Sign up</a> to rent it.</p>}
  </article>
)

export const Field: FC<{ label: string, name: string, type?: string, autocomplete?: string, value?: string }> = ({ label, name, type, autocomplete, value }) => (
  <p><label for={`f-${name}`}>{label}</label> <input id={`f-${name}`} name={name} type={type ?? 'text'} autocomplete={autocomplete} value={value} required={type !== 'select'} /></p>
)

export const Message: FC<{ error?: string, notice?: string }> = ({ error, notice }) => (
  <>
    {error !== undefined ? <p class="error" role="alert">{error}</p> : null}
    {notice !== undefined ? <p class="notice" role="status">{notice}</p> : null}
  </>
)

export const SignUp: FC<{ csrf: string, regions: string[], error?: string, username?: string }> = ({ csrf, regions, error, username }) => (
  <form method="post" action="/store/signup">
    <Message error={error} />
    <CsrfField csrf={csrf} />
    <Field label="User name" name="username" autocomplete="username" value={username} />
    <Field label="Password" name="password" type="password" autocomplete="new-password" />
    {regions.length > 0
      ? <p><label for="f-region">Region</label> <select id="f-region" name="region"><option value="">any</option>{regions.map(r => <option value={r}>{r}</option>)}</select></p>
      : null}
    <button type="submit">Sign up</button>
  </form>
)

export const LogIn: FC<{ csrf: string, error?: string, notice?: string, username?: string }> = ({ csrf, error, notice, username }) => (
  <form method="post" action="/store/login">
    <Message error={error} notice={notice} />
    <CsrfField csrf={csrf} />
    <Field label="User name" name="username" autocomplete="username" value={username} />
    <Field label="Password" name="password" type="password" autocomplete="current-password" />
    <button type="submit">Log in</button>
  </form>
)

/** The exact commands that fetch a rental with the command line. */
export function getCommand (mainUrl: string, username: string, item: ItemRecord, license: LicenseRecord): string {
  const q = (v: string): string => /^[A-Za-z0-9_./:=@+,-]+$/.test(v) ? v : `'${v.replaceAll("'", "'\\''")}'`
  const file = item.title.replace(/[/\\\0]/g, '_').slice(0, 200)
  return `reelnet login --main ${q(mainUrl)} --user ${q(username)}\nreelnet get ${item.itemId} --license ${license.licenseId} -o ${q(file)}`
}

export interface RentalView { license: LicenseRecord, item: ItemRecord | undefined, command: string | undefined, ended?: string }

export const Rentals: FC<{ rentals: RentalView[], now: number, csrf: string }> = ({ rentals, now, csrf }) => (
  rentals.length === 0
    ? <p>You have no rentals yet. <a href="/store">Catalog</a></p>
    : <table class="rentals">
        <thead><tr><th scope="col">Title</th><th scope="col">Paid</th><th scope="col">Rented</th><th scope="col">Ends</th><th scope="col">Time left</th><th scope="col"></th><th scope="col">Command line</th></tr></thead>
        <tbody>
          {rentals.map(({ license, item, command, ended }) => {
            const active = license.expiresAt > now && ended === undefined
            return (
              <tr class={active ? 'active' : 'expired'} data-license={license.licenseId}>
                <td>{item?.title ?? license.itemId}</td>
                <td class="paid">{priceText(license.price)}</td>
                <td><Instant at={license.notBefore} /></td>
                <td><Instant at={license.expiresAt} /></td>
                <td>{ended !== undefined ? `ended: ${ended}` : active ? formatSpan(license.expiresAt - now) : 'expired'}</td>
                <td>{active
                  ? <a href={`/store/watch/${license.licenseId}`}>Watch</a>
                  : item !== undefined && ended === undefined ? <RentForm itemId={item.itemId} csrf={csrf} /> : null}</td>
                <td>{active && command !== undefined ? <pre>{command}</pre> : null}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
)

export const Rented: FC<{ item: ItemRecord, license: LicenseRecord, now: number, command: string }> = ({ item, license, now, command }) => (
  <>
    <p role="status">You rented <strong>{item.title}</strong> for {formatSpan(license.expiresAt - license.notBefore)}: it ends at <Instant at={license.expiresAt} /> ({formatSpan(license.expiresAt - now)} from now).</p>
    <p><a href={`/store/watch/${license.licenseId}`}>Watch</a></p>
    <p>Or download it with the command line:</p>
    <pre>{command}</pre>
  </>
)

export interface WatchData {
  licenseId: string
  itemId: string
  title: string
  /** main's public key, base64url: the page verifies the manifest and directives against it. */
  mainKey: string
  csrf: string
  expiresAt: number
}

export const Watch: FC<{ data: WatchData }> = ({ data }) => (
  <>
    <div id="player" data-license={data.licenseId} data-item={data.itemId} data-main-key={data.mainKey} data-csrf={data.csrf} data-expires={String(data.expiresAt)}>
      <video id="video" controls preload="auto" width="960"></video>
      <p id="status" role="status" aria-live="polite">Starting the player…</p>
      <p id="problem" role="alert" hidden></p>
      <p class="muted">Rental ends at <Instant at={data.expiresAt} />. Sources: <span id="sources">none yet</span> · verified <span id="verified">0</span></p>
      <ul id="events" class="muted" aria-label="Player events"></ul>
    </div>
    <script type="module" src="/store/player.js"></script>
  </>
)

export const Expired: FC<{ item: ItemRecord | undefined, license: LicenseRecord, csrf: string }> = ({ item, license, csrf }) => (
  <>
    <p role="alert">Your rental of {item?.title ?? 'this item'} expired at <Instant at={license.expiresAt} />. Rent it again to watch.</p>
    {item !== undefined ? <RentForm itemId={item.itemId} csrf={csrf} /> : null}
  </>
)

export const Problem: FC<{ message: string }> = ({ message }) => <p role="alert" class="error">{message}</p>
