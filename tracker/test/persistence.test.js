'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { settle, fakeServer, memoryStorage, setup, storedEvents, trackMany } = require('./helpers.js');

test('queued events are stored and resent by the next page with the same uuids', async () => {
  const storage = memoryStorage();
  const first = setup({ storage, init: {} });
  trackMany(first.tracker, 3);
  await settle();
  const stored = storedEvents(storage);
  assert.deepEqual(
    stored.map((e) => e.event_name),
    ['e0', 'e1', 'e2'],
  );

  // The page goes away before the flush timer (and without pagehide): reload.
  const second = setup({ storage, init: {} });
  await settle();
  await second.clock.advance(2000);
  assert.deepEqual(second.server.delivered, stored.map((e) => e.uuid));
  assert.deepEqual(storedEvents(storage), []);
});

test('a batch that failed survives a reload', async () => {
  const storage = memoryStorage();
  const first = setup({ storage, server: fakeServer(['network']), init: {} });
  first.tracker.track('x');
  await first.clock.advance(2000);
  assert.equal(first.server.requests.length, 1);
  assert.equal(storedEvents(storage).length, 1);

  const second = setup({ storage, init: {} });
  await second.clock.advance(2000);
  assert.deepEqual(second.server.delivered, first.server.requests[0].uuids);
});

test('the stored queue keeps the newest maxQueue events', async () => {
  const storage = memoryStorage();
  const server = fakeServer(['hang']);
  const { tracker } = setup({ storage, server, init: {} });
  trackMany(tracker, 1005);
  await settle();
  const stored = storedEvents(storage);
  assert.equal(stored.length, 1000);
  assert.equal(stored[0].event_name, 'e5');
  assert.equal(stored.at(-1).event_name, 'e1004');
});

test('maxQueue comes from init', async () => {
  const storage = memoryStorage();
  const { tracker } = setup({ storage, server: fakeServer(['hang']), init: { maxQueue: 30 } });
  trackMany(tracker, 50);
  await settle();
  assert.equal(storedEvents(storage).length, 30);
});

test('events stored for one key are not sent with another', async () => {
  const storage = memoryStorage();
  const first = setup({ storage, server: fakeServer(['hang']), init: { key: 'et_one_s' } });
  first.tracker.track('for-one');
  await first.clock.advance(2000);

  const other = setup({ storage, init: { key: 'et_two_s' } });
  other.tracker.track('for-two');
  await other.clock.advance(2000);
  assert.deepEqual(
    other.server.requests.map((r) => [r.url.split('key=')[1], r.body.events.map((e) => e.event_name)]),
    [['et_two_s', ['for-two']]],
  );

  const again = setup({ storage, init: { key: 'et_one_s' } });
  await again.clock.advance(2000);
  assert.deepEqual(
    again.server.requests.map((r) => r.body.events.map((e) => e.event_name)),
    [['for-one']],
  );
});

test('two tabs keep each other\'s unsent events in storage', async () => {
  const storage = memoryStorage();
  const a = setup({ storage, server: fakeServer(Array(9).fill('network')), init: {} });
  const b = setup({ storage, server: fakeServer(Array(9).fill('network')), init: {} });
  a.tracker.track('from-a');
  b.tracker.track('from-b');
  await settle();
  assert.deepEqual(storedEvents(storage).map((e) => e.event_name).sort(), ['from-a', 'from-b']);

  // Tab A comes back online and delivers its event; B's stays stored.
  a.server.script.length = 0;
  await a.clock.advance(10000);
  assert.equal(a.server.delivered.length, 1);
  assert.deepEqual(
    storedEvents(storage).map((e) => e.event_name),
    ['from-b'],
  );
  // B writes again: A's delivered event is not brought back.
  b.tracker.track('from-b-2');
  await settle();
  assert.deepEqual(
    storedEvents(storage).map((e) => e.event_name),
    ['from-b', 'from-b-2'],
  );
});

test('corrupt stored data is ignored', async () => {
  const storage = memoryStorage();
  const first = setup({ storage, server: fakeServer(['hang']), init: {} });
  first.tracker.track('x');
  await settle();
  const [name] = [...storage.items.keys()].filter((k) => k.startsWith('et_queue'));
  for (const junk of ['{not json', '{"a": 1}', '[null, 3]', 'null']) {
    storage.items.set(name, junk);
    const { tracker, server, clock } = setup({ storage, init: {} });
    tracker.track('y');
    await clock.advance(2000);
    assert.deepEqual(
      server.requests.flatMap((r) => r.body.events.map((e) => e.event_name)),
      ['y'],
    );
  }
});

for (const [label, storage] of [
  ['throws', { getItem: throwing, setItem: throwing, removeItem: throwing }],
  ['is missing', undefined],
  ['is null', null],
  ['is full', { getItem: () => null, setItem: throwing, removeItem: () => {} }],
]) {
  test(`storage that ${label} does not break tracking`, async (t) => {
    const warn = t.mock.method(console, 'warn', () => {});
    const server = fakeServer();
    const { tracker, clock } = setup({ storage, server });
    assert.doesNotThrow(() => {
      tracker.init({ key: 'et_abc_secret', host: 'https://et.example' });
      tracker.track('x');
      tracker.identify('u-1');
      tracker.track('y');
      tracker.reset();
      tracker.flush(true);
    });
    await clock.advance(2000);
    assert.equal(warn.mock.callCount(), 0);
    assert.ok(tracker.distinctId());
  });
}

function throwing() {
  throw new DOMException('The operation is insecure.', 'SecurityError');
}
