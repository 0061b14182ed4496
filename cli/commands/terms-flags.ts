/**
 * The flags that set an item's terms (issue 15), shared by `reelnet ingest` and `reelnet admin item set`: they
 * become main's TermsPatch (a field absent is kept; `none` / `all` clear one). Prices are integers in the
 * currency's minor unit (399 with --currency EUR is 3.99 €).
 */
import { UsageError, type Options } from '../command.ts'

export const TERMS_FLAGS: Options = {
  'rental-hours': { type: 'string' },
  price: { type: 'string' },
  currency: { type: 'string' },
  'purchase-price': { type: 'string' },
  'max-devices': { type: 'string' },
  'available-from': { type: 'string' },
  'available-until': { type: 'string' },
  regions: { type: 'string' },
  priority: { type: 'string' }
}

export const TERMS_HELP = `  --rental-hours N       how long a rental lasts (default: main's --rental-period)
  --price N              what a rental costs, in minor units (399 = 3.99); 'none' for free
  --purchase-price N     a purchase price, in minor units; 'none' for no purchase offer
  --currency CUR         ISO 4217 code of the prices (default EUR)
  --max-devices N        devices one licence may be used on; 'none' for main's default
  --available-from DATE  rentable from (ISO 8601, e.g. 2026-12-24T00:00:00Z); 'none' clears
  --available-until DATE rentable until; licences sold before keep working; 'none' clears
  --regions A,B          regions it is offered in; 'all' for every region
  --priority N           parents short of space hold higher priorities first (default 0)`

type Values = Record<string, string | boolean | undefined>

function int (name: string, v: string, min: number, max: number): number {
  if (!/^\d{1,13}$/.test(v)) throw new UsageError(`--${name} must be a whole number, got '${v}'`)
  const n = Number(v)
  if (n < min || n > max) throw new UsageError(`--${name} must be ${min}..${max}, got ${n}`)
  return n
}

function date (name: string, v: string): number | null {
  if (v === 'none') return null
  const t = Date.parse(v)
  if (!Number.isFinite(t) || t < 0) throw new UsageError(`--${name} must be an ISO 8601 date such as 2026-12-24T00:00:00Z, got '${v}'`)
  return t
}

/** The terms patch these flags ask for, or undefined when none was given. */
export function termsPatchOf (values: Values): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {}
  const str = (k: string): string | undefined => typeof values[k] === 'string' ? values[k] : undefined
  const currency = str('currency') ?? 'EUR'
  if (!/^[A-Z]{3}$/.test(currency)) throw new UsageError(`--currency must be an ISO 4217 code such as EUR, got '${currency}'`)
  const price = (name: string, v: string): unknown => v === 'none' ? null : { amount: int(name, v, 0, 1e12), currency }
  if (str('rental-hours') !== undefined) patch.rentalHours = int('rental-hours', str('rental-hours')!, 1, 24 * 366)
  if (str('price') !== undefined) patch.rentalPrice = price('price', str('price')!)
  if (str('purchase-price') !== undefined) patch.purchasePrice = price('purchase-price', str('purchase-price')!)
  if (str('max-devices') !== undefined) patch.maxDevices = str('max-devices') === 'none' ? null : int('max-devices', str('max-devices')!, 1, 64)
  if (str('available-from') !== undefined) patch.availableFrom = date('available-from', str('available-from')!)
  if (str('available-until') !== undefined) patch.availableUntil = date('available-until', str('available-until')!)
  if (str('regions') !== undefined) {
    const r = str('regions')!
    if (r === 'all') patch.regions = null
    else {
      const list = r.split(',').map(x => x.trim()).filter(x => x !== '')
      for (const x of list) if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(x)) throw new UsageError(`--regions: '${x}' is not a region name`)
      if (list.length === 0 || list.length > 256) throw new UsageError('--regions lists 1..256 regions, or all')
      patch.regions = list
    }
  }
  if (str('priority') !== undefined) patch.priority = int('priority', str('priority')!, 0, 1_000_000)
  if (str('currency') !== undefined && patch.rentalPrice === undefined && patch.purchasePrice === undefined) throw new UsageError('--currency goes with --price or --purchase-price')
  return Object.keys(patch).length === 0 ? undefined : patch
}

/** Minor units as a person reads them: 399 EUR → "3.99 EUR". */
export function formatPrice (p: { amount: number, currency: string } | null | undefined): string {
  if (p === null || p === undefined) return 'free'
  return `${(p.amount / 100).toFixed(2)} ${p.currency}`
}
