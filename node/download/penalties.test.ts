import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_PENALISED, PenaltyMap } from './penalties.ts'

test('a source is kept out until its deadline, and back in after it', () => {
  const m = new PenaltyMap()
  m.penalise('a', 100, 'avoid', 0)
  assert.is(m.reasonOf('a', 99), 'avoid')
  assert.is(m.isPenalised('a', 100), false)
  assert.is(m.size, 0, 'an expired entry is forgotten when looked at')
})

test('a later deadline stands against an earlier one; a ban outlasts an avoid', () => {
  const m = new PenaltyMap()
  m.penalise('a', Infinity, 'ban', 0)
  m.penalise('a', 50, 'avoid', 0)
  assert.is(m.reasonOf('a', 1e12), 'ban')
  m.penalise('b', 50, 'avoid', 0)
  m.penalise('b', 500, 'ban', 0)
  assert.is(m.reasonOf('b', 100), 'ban')
})

test('an exempt source is never kept out (a filler exempts main\'s origin)', () => {
  const m = new PenaltyMap(id => id === 'origin')
  m.penalise('origin', Infinity, 'ban', 0)
  assert.is(m.isPenalised('origin', 1), false)
})

test('memory stays bounded under churn: expired entries go first, then the soonest to expire', () => {
  const m = new PenaltyMap()
  m.penalise('banned', Infinity, 'ban', 0)
  for (let i = 0; i < MAX_PENALISED * 2; i++) m.penalise(`p${i}`, 10 + i, 'avoid', 0)
  assert.ok(m.size <= MAX_PENALISED, `${m.size} entries`)
  assert.is(m.reasonOf('banned', 5), 'ban', 'the ban outlived the churn')
  m.penalise('late', 1e9, 'avoid', MAX_PENALISED * 3)
  assert.ok(m.size <= MAX_PENALISED)
  assert.is(m.reasonOf('late', MAX_PENALISED * 3), 'avoid')
})

test.run()
