'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { START, settle, setup, trackMany } = require('./helpers.js');

test('events wait for the time threshold, then go in one batch', async () => {
  const { tracker, server, clock } = setup({ init: {} });
  trackMany(tracker, 3);
  await clock.advance(1999);
  assert.equal(server.requests.length, 0);
  await clock.advance(1);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(
    server.requests[0].body.events.map((e) => e.event_name),
    ['e0', 'e1', 'e2'],
  );
});

test('a full batch is sent at once, the rest after the interval', async () => {
  const { tracker, server, clock } = setup({ init: {} });
  trackMany(tracker, 45);
  await settle();
  assert.deepEqual(
    server.requests.map((r) => r.body.events.length),
    [20, 20],
  );
  await clock.advance(2000);
  assert.deepEqual(
    server.requests.map((r) => r.body.events.length),
    [20, 20, 5],
  );
});

test('batchSize and flushInterval come from init', async () => {
  const { tracker, server, clock } = setup({ init: { batchSize: 5, flushInterval: 500 } });
  trackMany(tracker, 7);
  await settle();
  assert.deepEqual(
    server.requests.map((r) => r.body.events.length),
    [5],
  );
  await clock.advance(500);
  assert.deepEqual(
    server.requests.map((r) => r.body.events.length),
    [5, 2],
  );
});

test('the request is a CORS simple request to the batch endpoint with the key in the query', async () => {
  const { tracker, server, clock } = setup({ init: { key: 'et_pfx_a/b+c=', host: 'https://et.example/' } });
  tracker.track('signup', { plan: 'pro' });
  await clock.advance(2000);
  const [{ url, options }] = server.requests;
  assert.equal(url, 'https://et.example/api/eventlogs/batch/?key=et_pfx_a%2Fb%2Bc%3D');
  assert.equal(options.method, 'POST');
  assert.equal(options.keepalive, true);
  assert.deepEqual(options.headers, { 'Content-Type': 'text/plain' });
  assert.equal(typeof options.body, 'string');
});

test('the body holds the events and sent_at, each event with its own uuid and track time', async () => {
  const { tracker, server, clock } = setup({ init: {} });
  tracker.track('signup', { plan: 'pro' });
  await clock.advance(500);
  tracker.track('view');
  await clock.advance(2000);
  const { body } = server.requests[0];
  assert.deepEqual(Object.keys(body).sort(), ['events', 'sent_at']);
  assert.equal(body.sent_at, new Date(START + 2000).toISOString());
  const [signup, view] = body.events;
  assert.deepEqual(Object.keys(signup).sort(), ['data', 'distinct_id', 'event_name', 'timestamp', 'uuid']);
  assert.deepEqual(signup.data, { plan: 'pro' });
  assert.deepEqual(view.data, {});
  assert.equal(signup.timestamp, new Date(START).toISOString());
  assert.equal(view.timestamp, new Date(START + 500).toISOString());
  assert.notEqual(signup.uuid, view.uuid);
  assert.equal(signup.distinct_id, view.distinct_id);
});

test('batches are split to stay under the 64 KiB keepalive limit', async () => {
  const { tracker, server, clock } = setup({ init: {} });
  const big = 'x'.repeat(10000);
  for (let i = 0; i < 15; i++) tracker.track('big', { big, i });
  await clock.advance(2000);
  await clock.advance(2000);
  await clock.advance(2000);
  const sizes = server.requests.map((r) => Buffer.byteLength(r.options.body));
  assert.ok(sizes.length >= 3, `${sizes}`);
  for (const size of sizes) assert.ok(size <= 60000, `${size}`);
  assert.deepEqual(
    server.requests.flatMap((r) => r.body.events.map((e) => e.data.i)),
    [...Array(15).keys()],
  );
});

test('multi-byte characters count as UTF-8 bytes', async () => {
  const { tracker, server, clock } = setup({ init: {} });
  const wide = '€'.repeat(5000); // 15000 bytes
  for (let i = 0; i < 8; i++) tracker.track('wide', { wide });
  for (let i = 0; i < 4; i++) await clock.advance(2000);
  assert.equal(server.requests.flatMap((r) => r.body.events).length, 8);
  for (const r of server.requests) assert.ok(Buffer.byteLength(r.options.body) <= 60000);
});

test('events that cannot be sent are refused with a warning, never thrown', async (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const { tracker, server, clock } = setup({ init: {} });
  const cyclic = {};
  cyclic.self = cyclic;
  assert.doesNotThrow(() => tracker.track('cyclic', cyclic));
  assert.doesNotThrow(() => tracker.track('huge', { s: 'x'.repeat(70000) }));
  assert.doesNotThrow(() => tracker.track(''));
  assert.doesNotThrow(() => tracker.track(undefined));
  tracker.track('fine');
  await clock.advance(2000);
  assert.equal(warn.mock.callCount(), 4);
  assert.deepEqual(
    server.requests.flatMap((r) => r.body.events.map((e) => e.event_name)),
    ['fine'],
  );
});

test('events tracked before init are sent after it', async () => {
  const { tracker, server, clock } = setup();
  tracker.track('early');
  await clock.advance(5000);
  assert.equal(server.requests.length, 0);
  tracker.init({ key: 'et_abc_secret', host: 'https://et.example' });
  await clock.advance(2000);
  assert.deepEqual(
    server.requests[0].body.events.map((e) => e.event_name),
    ['early'],
  );
});

test('init without a key or host warns and sends nothing', async (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const { tracker, server, clock } = setup();
  tracker.init({ host: 'https://et.example' });
  tracker.track('x');
  await clock.advance(5000);
  assert.equal(server.requests.length, 0);
  assert.equal(warn.mock.callCount(), 1);
});

test('flush() sends at once', async () => {
  const { tracker, server } = setup({ init: {} });
  tracker.track('now');
  tracker.flush();
  await settle();
  assert.equal(server.requests.length, 1);
});
