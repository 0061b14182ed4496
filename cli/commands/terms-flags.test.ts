import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { termsPatchOf, formatPrice } from './terms-flags.ts'
import { UsageError } from '../command.ts'

test('terms flags become main\'s patch: minor units with the currency, dates as ms, none/all clear', () => {
  assert.equal(termsPatchOf({ price: '399', currency: 'GBP', 'purchase-price': '1299', 'rental-hours': '24', 'max-devices': '3', regions: 'eu,us', priority: '5', 'available-from': '2026-12-24T00:00:00Z' }), {
    rentalHours: 24, rentalPrice: { amount: 399, currency: 'GBP' }, purchasePrice: { amount: 1299, currency: 'GBP' }, maxDevices: 3,
    availableFrom: Date.parse('2026-12-24T00:00:00Z'), regions: ['eu', 'us'], priority: 5
  })
  assert.equal(termsPatchOf({ price: '0' }), { rentalPrice: { amount: 0, currency: 'EUR' } })
  assert.equal(termsPatchOf({ price: 'none', 'available-until': 'none', regions: 'all', 'max-devices': 'none' }), { rentalPrice: null, availableUntil: null, regions: null, maxDevices: null })
  assert.is(termsPatchOf({}), undefined)
  assert.is(formatPrice({ amount: 399, currency: 'EUR' }), '3.99 EUR')
  assert.is(formatPrice(null), 'free')
})

test('bad terms flags are usage errors naming the flag', () => {
  for (const [values, flag] of [
    [{ price: '3.99' }, '--price'], [{ price: '-1' }, '--price'], [{ price: '1', currency: 'eur' }, '--currency'], [{ currency: 'EUR' }, '--currency'],
    [{ 'available-from': 'tomorrow' }, '--available-from'], [{ regions: 'EU' }, '--regions'], [{ 'rental-hours': '0' }, '--rental-hours'], [{ 'max-devices': '65' }, '--max-devices']
  ] as Array<[Record<string, string>, string]>) {
    assert.throws(() => termsPatchOf(values), (e: Error) => e instanceof UsageError && e.message.includes(flag), JSON.stringify(values))
  }
})

test.run()
