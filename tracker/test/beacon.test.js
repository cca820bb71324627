'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { settle, fakeServer, memoryStorage, setup, storedEvents, trackMany } = require('./helpers.js');

test('flush(true) hands the pending events to sendBeacon', async () => {
  const { tracker, server, clock, beacons, storage } = setup({ init: {} });
  trackMany(tracker, 3);
  tracker.flush(true);
  assert.equal(beacons.length, 1);
  assert.equal(beacons[0].url, 'https://et.example/api/eventlogs/batch/?key=et_abc_secret');
  assert.deepEqual(
    beacons[0].body.events.map((e) => e.event_name),
    ['e0', 'e1', 'e2'],
  );
  assert.ok(beacons[0].body.sent_at);
  // Stored synchronously: the page may not run another task.
  assert.deepEqual(storedEvents(storage), []);
  await clock.advance(60000);
  assert.equal(server.requests.length, 0);
});

test('events already in flight are not beaconed again', async () => {
  const server = fakeServer(['hang']);
  const { tracker, beacons } = setup({ server, init: {} });
  trackMany(tracker, 22);
  await settle();
  assert.equal(server.requests.length, 1);
  tracker.flush(true);
  assert.deepEqual(
    beacons[0].body.events.map((e) => e.event_name),
    ['e20', 'e21'],
  );
});

test('nothing pending, no beacon', () => {
  const { tracker, beacons } = setup({ init: {} });
  tracker.flush(true);
  assert.equal(beacons.length, 0);
});

test('sendBeacon refusing falls back to fetch keepalive', async () => {
  const { tracker, server, beacons, storage } = setup({ init: {}, beacon: () => false });
  trackMany(tracker, 2);
  tracker.flush(true);
  assert.equal(beacons.length, 1);
  await settle();
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0].options.keepalive, true);
  assert.deepEqual(server.delivered, beacons[0].body.events.map((e) => e.uuid));
  assert.deepEqual(storedEvents(storage), []);
});

test('sendBeacon throwing falls back to fetch too', async () => {
  const { tracker, server } = setup({
    init: {},
    beacon: () => {
      throw new TypeError('Illegal invocation');
    },
  });
  tracker.track('x');
  assert.doesNotThrow(() => tracker.flush(true));
  await settle();
  assert.equal(server.delivered.length, 1);
});

test('beacons are split to stay under 64 KiB', () => {
  const { tracker, beacons } = setup({ init: {} });
  const big = 'x'.repeat(10000);
  for (let i = 0; i < 15; i++) tracker.track('big', { big, i });
  tracker.flush(true);
  assert.ok(beacons.length >= 3);
  for (const b of beacons) assert.ok(Buffer.byteLength(JSON.stringify(b.body)) <= 60000);
  assert.equal(beacons.flatMap((b) => b.body.events).length, 15);
});

test('while the server is failing, beaconed events also stay stored for the next page', async () => {
  const storage = memoryStorage();
  const server = fakeServer(['network', 'network']);
  const first = setup({ storage, server, init: {} });
  first.tracker.track('x');
  await first.clock.advance(2000); // fails: backing off
  first.tracker.track('y');
  first.tracker.flush(true);
  assert.deepEqual(
    first.beacons[0].body.events.map((e) => e.event_name),
    ['x', 'y'],
  );
  assert.deepEqual(
    storedEvents(storage).map((e) => e.event_name),
    ['x', 'y'],
  );

  const second = setup({ storage, init: {} });
  await second.clock.advance(2000);
  assert.deepEqual(
    second.server.requests[0].uuids,
    first.beacons[0].body.events.map((e) => e.uuid),
  );
});
