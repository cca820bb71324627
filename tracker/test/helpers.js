// Fakes for the tracker's injected globals: a clock with timers, storage, and a
// server that records requests and answers from a script.
'use strict';
const { createTracker } = require('../src/tracker.js');

const START = Date.parse('2026-01-01T00:00:00Z');

// Runs every pending microtask and the promise chains they start.
const settle = () => new Promise((resolve) => setImmediate(resolve));

function fakeClock() {
  let now = START;
  let seq = 0;
  const timers = new Map();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      seq += 1;
      timers.set(seq, { fn, at: now + ms });
      return seq;
    },
    clearTimeout: (id) => timers.delete(id),
    // Moves time forward by `ms`, firing due timers in order.
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        await settle();
        const due = [...timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = end;
      await settle();
    },
  };
}

function memoryStorage() {
  const items = new Map();
  return {
    items,
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => items.set(k, String(v)),
    removeItem: (k) => items.delete(k),
  };
}

// Answers requests with the scripted statuses in order, then 200. An answer may be
// a status, {status, headers}, "network" (fetch rejects) or "hang" (never answers).
function fakeServer(script = []) {
  const requests = [];
  const delivered = []; // uuids of the events in batches answered with 2xx
  const fetch = (url, options) => {
    const body = JSON.parse(options.body);
    const answer = script.length ? script.shift() : 200;
    const request = { url, options, body, uuids: body.events.map((e) => e.uuid), answer };
    requests.push(request);
    if (answer === 'network') return Promise.reject(new TypeError('Failed to fetch'));
    if (answer === 'hang') return new Promise(() => {});
    const { status, headers } = typeof answer == 'number' ? { status: answer } : answer;
    if (status < 300) delivered.push(...request.uuids);
    return Promise.resolve(new Response(status == 204 ? null : '{}', { status, headers }));
  };
  return { fetch, requests, delivered, script };
}

let uuidSeq = 0;
const fakeUuid = () => `00000000-0000-4000-8000-${String(++uuidSeq).padStart(12, '0')}`;

// A tracker on fakes; pass `storage`/`server`/`clock` to share them between
// "page loads". Not initialised unless `init` options are given.
function setup({ storage = memoryStorage(), server = fakeServer(), clock = fakeClock(), beacon, init, random } = {}) {
  const beacons = [];
  const tracker = createTracker({
    fetch: server.fetch,
    sendBeacon: (url, body) => {
      beacons.push({ url, body: JSON.parse(body) });
      return beacon ? beacon(url, body) : true;
    },
    storage,
    now: clock.now,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: random || (() => 0.5),
    uuid: fakeUuid,
  });
  if (init) tracker.init({ key: 'et_abc_secret', host: 'https://et.example', ...init });
  return { tracker, storage, server, clock, beacons };
}

// The persisted queue (there is one stored queue per destination).
function storedEvents(storage) {
  const names = [...storage.items.keys()].filter((k) => k.startsWith('et_queue'));
  return names.flatMap((k) => JSON.parse(storage.items.get(k)));
}

function trackMany(tracker, n, prefix = 'e') {
  for (let i = 0; i < n; i++) tracker.track(`${prefix}${i}`, { i });
}

module.exports = { START, settle, fakeClock, memoryStorage, fakeServer, setup, storedEvents, trackMany };
