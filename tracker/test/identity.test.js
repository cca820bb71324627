'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { memoryStorage, setup } = require('./helpers.js');

const sentIds = (server) => server.requests.flatMap((r) => r.body.events.map((e) => [e.event_name, e.distinct_id]));

test('an anonymous id is created once and kept in storage', async () => {
  const storage = memoryStorage();
  const first = setup({ storage, init: {} });
  const anon = first.tracker.distinctId();
  assert.ok(anon);
  assert.equal(storage.getItem('et_anon_id'), anon);
  first.tracker.track('view');
  await first.clock.advance(2000);
  assert.deepEqual(sentIds(first.server), [['view', anon]]);

  const second = setup({ storage, init: {} });
  assert.equal(second.tracker.distinctId(), anon);
});

test('identify() applies to the events tracked after it, and to later pages', async () => {
  const storage = memoryStorage();
  const first = setup({ storage, init: {} });
  const anon = first.tracker.distinctId();
  first.tracker.track('before');
  first.tracker.identify('user-42');
  first.tracker.track('after');
  await first.clock.advance(2000);
  assert.deepEqual(sentIds(first.server), [
    ['before', anon],
    ['after', 'user-42'],
  ]);

  const second = setup({ storage, init: {} });
  assert.equal(second.tracker.distinctId(), 'user-42');
});

test('identify() turns numbers into strings and ignores empty ids', (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const { tracker } = setup({ init: {} });
  tracker.identify(42);
  assert.equal(tracker.distinctId(), '42');
  tracker.identify('');
  tracker.identify(null);
  assert.equal(tracker.distinctId(), '42');
  assert.equal(warn.mock.callCount(), 2);
});

test('reset() goes back to a new anonymous id', () => {
  const storage = memoryStorage();
  const { tracker } = setup({ storage, init: {} });
  const anon = tracker.distinctId();
  tracker.identify('user-42');
  tracker.reset();
  const fresh = tracker.distinctId();
  assert.notEqual(fresh, anon);
  assert.notEqual(fresh, 'user-42');
  assert.equal(storage.getItem('et_distinct_id'), null);
  assert.equal(storage.getItem('et_anon_id'), fresh);
  assert.equal(setup({ storage }).tracker.distinctId(), fresh);
});
