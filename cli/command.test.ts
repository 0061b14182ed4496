import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseDuration, durationFlag, formatDuration, UsageError } from './command.ts'

test('durations read 30m, 2h, 7d, 1h30m, 1.5h, 500ms; a bare number is in the flag\'s unit', () => {
  assert.is(parseDuration('30m'), 30 * 60_000)
  assert.is(parseDuration('2h'), 2 * 3600_000)
  assert.is(parseDuration('7d'), 7 * 24 * 3600_000)
  assert.is(parseDuration('1w'), 7 * 24 * 3600_000)
  assert.is(parseDuration('1h30m'), 90 * 60_000)
  assert.is(parseDuration('1.5h'), 90 * 60_000)
  assert.is(parseDuration('500ms'), 500)
  assert.is(parseDuration('15S'), 15_000)
  assert.is(parseDuration('1500'), 1500)
  assert.is(parseDuration('48', 'h'), 48 * 3600_000)
  for (const bad of ['', 'm', '30x', '-5m', '1h 30m', 'h2', '1e3', '30m!', '9'.repeat(40)]) assert.is(parseDuration(bad), undefined, bad)
})

test('a duration flag names itself and its bounds when wrong', () => {
  assert.is(durationFlag('rental-period', undefined, 5, 0, 10), 5)
  assert.is(durationFlag('rental-period', '30m', 0, 60_000, 3600_000), 1_800_000)
  assert.throws(() => durationFlag('rental-period', 'soon', 0, 0, 1), (e: Error) => e instanceof UsageError && /--rental-period must be a duration like 30m, 2h or 7d.*'soon'/.test(e.message))
  assert.throws(() => durationFlag('rental-period', '10s', 0, 60_000, 3600_000), (e: Error) => e instanceof UsageError && e.message === '--rental-period must be between 1m and 1h, got 10s')
})

test('durations print in the largest whole units', () => {
  assert.is(formatDuration(48 * 3600_000), '2d')
  assert.is(formatDuration(7 * 24 * 3600_000), '7d')
  assert.is(formatDuration(90 * 60_000), '1h30m')
  assert.is(formatDuration(250), '250ms')
  assert.is(formatDuration(0), '0s')
})

test.run()
