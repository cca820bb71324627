'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { settle, fakeServer, setup, storedEvents, trackMany } = require('./helpers.js');

// Times (ms after the first request) at which the requests were made.
async function requestTimes(clock, server, until) {
  const times = [];
  const start = clock.now();
  let seen = 0;
  for (let t = 0; t <= until; t += 100) {
    await clock.advance(t === 0 ? 0 : 100);
    while (seen < server.requests.length) {
      times.push(clock.now() - start);
      seen++;
    }
  }
  return times;
}

test('503 twice then 200: the same batch, same uuids, delivered exactly once', async () => {
  const server = fakeServer([503, 503]);
  const { tracker, clock, storage } = setup({ server, init: {}, random: () => 0 });
  trackMany(tracker, 5);
  const tracked = [];
  await clock.advance(2000);
  tracked.push(...server.requests[0].uuids);
  // random() = 0: the backoff is half of 1 s, then half of 2 s
  const times = await requestTimes(clock, server, 5000);
  assert.deepEqual(times, [0, 500, 1500]);
  assert.equal(server.requests.length, 3);
  for (const r of server.requests) assert.deepEqual(r.uuids, tracked);
  assert.deepEqual(server.delivered, tracked);
  assert.equal(new Set(server.delivered).size, 5);
  await clock.advance(60000);
  assert.equal(server.requests.length, 3);
  assert.deepEqual(storedEvents(storage), []);
});

test('sent_at is set again on each attempt', async () => {
  const server = fakeServer([500]);
  const { tracker, clock } = setup({ server, init: {} });
  tracker.track('x');
  await clock.advance(2000);
  await clock.advance(2000);
  const [first, second] = server.requests.map((r) => r.body.sent_at);
  assert.ok(Date.parse(second) > Date.parse(first));
});

test('network errors are retried', async () => {
  const server = fakeServer(['network', 'network']);
  const { tracker, clock } = setup({ server, init: {} });
  tracker.track('x');
  await clock.advance(2000 + 1000 + 2000);
  assert.equal(server.requests.length, 3);
  assert.equal(server.delivered.length, 1);
});

test('the backoff doubles up to 30 s, with jitter', async () => {
  const server = fakeServer(Array(9).fill(503));
  const { tracker, clock } = setup({ server, init: {}, random: () => 0.999999 });
  tracker.track('x');
  await clock.advance(2000);
  const times = await requestTimes(clock, server, 200000);
  const gaps = times.slice(1).map((t, i) => Math.round((t - times[i]) / 1000));
  assert.deepEqual(gaps, [1, 2, 4, 8, 16, 30, 30, 30, 30]);
});

test('429 waits for Retry-After', async () => {
  const server = fakeServer([{ status: 429, headers: { 'Retry-After': '7' } }]);
  const { tracker, clock } = setup({ server, init: {} });
  tracker.track('x');
  await clock.advance(2000);
  await clock.advance(6900);
  assert.equal(server.requests.length, 1);
  await clock.advance(100);
  assert.equal(server.requests.length, 2);
  assert.equal(server.delivered.length, 1);
});

test('a full batch waiting during a backoff does not cut it short', async () => {
  const server = fakeServer([{ status: 503, headers: { 'Retry-After': '10' } }]);
  const { tracker, clock } = setup({ server, init: {} });
  tracker.track('x');
  await clock.advance(2000);
  trackMany(tracker, 40);
  tracker.flush();
  await clock.advance(9900);
  assert.equal(server.requests.length, 1);
  await clock.advance(100);
  assert.equal(server.requests.length, 3); // 20, then the next 20 as soon as it answers
  await clock.advance(2000);
  assert.equal(new Set(server.delivered).size, 41);
});

test('a final 4xx drops the batch and warns once', async (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const server = fakeServer([400, 401]);
  const { tracker, clock, storage } = setup({ server, init: {} });
  tracker.track('a');
  await clock.advance(2000);
  tracker.track('b');
  await clock.advance(2000);
  tracker.track('c');
  await clock.advance(60000);
  assert.deepEqual(
    server.requests.map((r) => r.body.events.map((e) => e.event_name)),
    [['a'], ['b'], ['c']],
  );
  assert.deepEqual(server.delivered, [server.requests[2].uuids[0]]);
  assert.equal(warn.mock.callCount(), 1);
  assert.match(warn.mock.calls[0].arguments.join(' '), /HTTP 400/);
  assert.deepEqual(storedEvents(storage), []);
});

test('one request at a time', async () => {
  const server = fakeServer(['hang']);
  const { tracker, clock } = setup({ server, init: {} });
  trackMany(tracker, 20);
  await settle();
  trackMany(tracker, 60);
  await clock.advance(10000);
  assert.equal(server.requests.length, 1);
});

test('a 200 with rejected items counts as delivered', async () => {
  const server = fakeServer([{ status: 200 }]);
  const { tracker, clock, storage } = setup({ server, init: {} });
  tracker.track('x');
  await clock.advance(2000);
  await clock.advance(60000);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(storedEvents(storage), []);
});
