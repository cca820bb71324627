// The whole script, as a browser runs it, in a VM context with a fake window:
// once from the source and once from the committed minified file.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { memoryStorage, settle } = require('./helpers.js');
const { OUTPUT, SOURCE } = require('../scripts/build.js');

// The transport tests: no page views of their own, today's stored anonymous id.
const SNIPPET = `
window.eventtracker = window.eventtracker || [];
eventtracker.push(["init", {key: "et_pfx_secret", flushInterval: 10, autocapture: false, cookieless: false}],
                  ["track", "signup", {plan: "pro"}]);
`;
const init = (options) =>
  `window.eventtracker = [["init", ${JSON.stringify({ key: 'k', flushInterval: 10, ...options })}]];`;

function loadPage(
  code,
  {
    snippet = '',
    localStorage = memoryStorage(),
    crypto = globalThis.crypto,
    beaconResult = true,
    navigator = {},
    referrer = 'https://www.google.com/',
  } = {},
) {
  const listeners = { window: {}, document: {} };
  const on = (target) => (type, fn) => (listeners[target][type] ||= []).push(fn);
  const beacons = [];
  const requests = [];
  const document = {
    visibilityState: 'visible',
    currentScript: { src: 'https://et.example/t.js?v=1' },
    addEventListener: on('document'),
    title: 'Shop',
    referrer,
    documentElement: { scrollHeight: 4000 },
  };
  // A single-page app's history: pushState changes the address without an event.
  const location = { href: 'https://shop.example/a?x=1&token=secret#top' };
  const history = {
    pushState(state, title, url) {
      location.href = new URL(url, location.href).href;
    },
  };
  const window = {
    document,
    console,
    URL,
    Blob,
    crypto,
    setTimeout,
    clearTimeout,
    addEventListener: on('window'),
    location,
    history,
    screen: { width: 1280 },
    scrollY: 0,
    innerHeight: 1000,
    navigator: {
      language: 'de-DE',
      ...navigator,
      sendBeacon(url, data) {
        if (this !== window.navigator) throw new TypeError('Illegal invocation');
        beacons.push({ url, data });
        return beaconResult;
      },
    },
    fetch: async (url, options) => {
      requests.push({ url, options, body: JSON.parse(options.body) });
      return new Response('{"accepted": 1}', { status: 200 });
    },
  };
  if (typeof localStorage == 'function') Object.defineProperty(window, 'localStorage', { get: localStorage });
  else window.localStorage = localStorage;
  window.window = window;
  vm.createContext(window);
  vm.runInContext(snippet, window);
  vm.runInContext(code, window);
  const fire = (target, type, event = {}) => listeners[target][type]?.forEach((fn) => fn({ type, ...event }));
  return { window, document, beacons, requests, fire };
}

const beaconEvents = async (beacon) => JSON.parse(await beacon.data.text()).events.map((e) => e.event_name);
// Every event the page sent, by fetch or by beacon.
const sentEvents = async (page) => [
  ...page.requests.flatMap((r) => r.body.events),
  ...(await Promise.all(page.beacons.map(async (b) => JSON.parse(await b.data.text()).events))).flat(),
];
// A page whose clock (Date.now) the test moves: `wait(seconds)`.
function clockedPage(code, options) {
  const page = loadPage(code, { ...options, snippet: `let now = 1e12; Date.now = () => now; ${options.snippet}` });
  page.wait = (seconds) => vm.runInContext(`now += ${seconds * 1000}`, page.window);
  page.visibility = (state) => {
    page.document.visibilityState = state;
    page.fire('document', 'visibilitychange');
  };
  return page;
}
const leaves = (events) => events.filter((e) => e.event_name == '$pageleave').map((e) => e.data.seconds);

for (const [label, file] of [
  ['source', SOURCE],
  ['minified', OUTPUT],
]) {
  const code = fs.readFileSync(file, 'utf8');

  test(`${label}: replays the snippet's calls and exposes window.eventtracker`, async () => {
    const page = loadPage(code, { snippet: SNIPPET });
    const tracker = page.window.eventtracker;
    assert.equal(typeof tracker.track, 'function');
    tracker.push(['track', 'later']);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(page.requests.length, 1);
    const [{ url, options, body }] = page.requests;
    // The host defaults to the origin the script was loaded from.
    assert.equal(url, 'https://et.example/api/eventlogs/batch/?key=et_pfx_secret');
    assert.deepEqual({ ...options.headers }, { 'Content-Type': 'text/plain' }); // other realm
    assert.deepEqual(
      body.events.map((e) => [e.event_name, e.data]),
      [
        ['signup', { plan: 'pro', screen_width: 1280 }], // every event: one device per page
        ['later', { screen_width: 1280 }],
      ],
    );
    assert.match(body.events[0].uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test(`${label}: pagehide sends the pending events with sendBeacon, as text/plain`, async () => {
    const page = loadPage(code, { snippet: SNIPPET });
    page.window.eventtracker.track('leaving');
    page.fire('window', 'pagehide');
    assert.equal(page.beacons.length, 1);
    const [{ url, data }] = page.beacons;
    assert.equal(url, 'https://et.example/api/eventlogs/batch/?key=et_pfx_secret');
    assert.equal(data.type, 'text/plain');
    assert.deepEqual(await beaconEvents(page.beacons[0]), ['signup', 'leaving']);
    page.fire('window', 'pagehide');
    assert.equal(page.beacons.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(page.requests.length, 0);
  });

  test(`${label}: visibilitychange to hidden beacons, to visible does not`, async () => {
    const page = loadPage(code, { snippet: SNIPPET });
    page.fire('document', 'visibilitychange');
    assert.equal(page.beacons.length, 0);
    page.document.visibilityState = 'hidden';
    page.fire('document', 'visibilitychange');
    assert.deepEqual(await beaconEvents(page.beacons[0]), ['signup']);
  });

  test(`${label}: a refused beacon falls back to fetch keepalive`, async () => {
    const page = loadPage(code, { snippet: SNIPPET, beaconResult: false });
    page.fire('window', 'pagehide');
    await settle();
    assert.equal(page.requests.length, 1);
    assert.equal(page.requests[0].options.keepalive, true);
  });

  test(`${label}: works when reading localStorage throws`, async () => {
    const page = loadPage(code, {
      snippet: SNIPPET,
      localStorage: () => {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(page.requests.length, 1);
  });

  test(`${label}: makes uuids without crypto.randomUUID (insecure contexts)`, async () => {
    const crypto = { getRandomValues: (a) => globalThis.crypto.getRandomValues(a) };
    const page = loadPage(code, { snippet: SNIPPET, crypto });
    page.fire('window', 'pagehide');
    const [event] = JSON.parse(await page.beacons[0].data.text()).events;
    assert.match(event.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(page.window.eventtracker.distinctId(), /^[0-9a-f-]{36}$/);
  });

  test(`${label}: bad calls never throw into the page`, (t) => {
    t.mock.method(console, 'warn', () => {});
    const page = loadPage(code, { snippet: 'window.eventtracker = [["nope"], ["track"]];' });
    const tracker = page.window.eventtracker;
    assert.doesNotThrow(() => {
      tracker.init();
      tracker.init(null);
      tracker.track(null, null);
      tracker.push(['unknown', 1], null);
      tracker.identify();
    });
  });

  test(`${label}: loading the script twice keeps the first tracker`, () => {
    const page = loadPage(code, { snippet: SNIPPET });
    const first = page.window.eventtracker;
    vm.runInContext(code, page.window);
    assert.equal(page.window.eventtracker, first);
  });

  test(`${label}: a page view on init, cookieless: no id, nothing stored`, async () => {
    const localStorage = memoryStorage();
    const page = loadPage(code, { snippet: init({ sensitiveParams: ['token'] }), localStorage });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const [event] = page.requests[0].body.events;
    assert.equal(event.event_name, '$pageview');
    assert.deepEqual(event.data, {
      url: 'https://shop.example/a?x=1',
      title: 'Shop',
      referrer: 'https://www.google.com/',
      screen_width: 1280,
      language: 'de-DE',
    });
    assert.equal(event.distinct_id, '');
    assert.equal(localStorage.items.size, 0);
  });

  test(`${label}: a single-page app's navigation leaves one page and views the next`, async () => {
    const page = loadPage(code, { snippet: init({}) });
    page.window.scrollY = 1000;
    page.fire('window', 'scroll');
    page.window.history.pushState({}, '', '/b');
    page.window.history.pushState({}, '', '/b'); // the same address again: nothing
    await new Promise((resolve) => setTimeout(resolve, 30));
    const events = page.requests.flatMap((r) => r.body.events);
    assert.deepEqual(
      events.map((e) => [e.event_name, e.data.url]),
      [
        ['$pageview', 'https://shop.example/a?x=1&token=secret'],
        ['$pageleave', 'https://shop.example/a?x=1&token=secret'],
        ['$pageview', 'https://shop.example/b'],
      ],
    );
    assert.equal(events[1].data.scroll, 50);
    assert.equal(typeof events[1].data.seconds, 'number');
    // The way in was Google; the next view came from the page before it.
    assert.deepEqual(
      [events[0].data.referrer, events[2].data.referrer],
      ['https://www.google.com/', 'https://shop.example/a?x=1&token=secret'],
    );
    page.fire('window', 'pagehide');
    assert.deepEqual(await beaconEvents(page.beacons[0]), ['$pageleave']);
  });

  test(`${label}: one $pageleave per exit, with the seconds the page was visible`, async () => {
    const page = clockedPage(code, { snippet: init({}) });
    page.wait(5);
    page.visibility('hidden'); // another tab: the page stops being seen
    page.wait(60);
    page.visibility('visible'); // back: a pending leave again, counted from now
    page.wait(3);
    page.visibility('hidden'); // closed: hidden, then pagehide
    page.fire('window', 'pagehide', { persisted: false });
    page.visibility('hidden');
    const events = await sentEvents(page);
    assert.deepEqual(leaves(events), [5, 3]);
    assert.deepEqual(
      events.map((e) => e.event_name),
      ['$pageview', '$pageleave', '$pageleave'],
    );
  });

  test(`${label}: a page back from the back-forward cache is a page view, timed afresh`, async () => {
    const page = clockedPage(code, { snippet: init({}) });
    page.fire('window', 'pageshow', { persisted: false }); // the first load: counted by init
    page.wait(4);
    page.fire('window', 'pagehide', { persisted: true }); // into the cache
    page.wait(600);
    page.fire('window', 'pageshow', { persisted: true });
    page.wait(2);
    page.fire('window', 'pagehide', { persisted: false });
    const events = await sentEvents(page);
    assert.deepEqual(
      events.map((e) => e.event_name),
      ['$pageview', '$pageleave', '$pageview', '$pageleave'],
    );
    assert.deepEqual(leaves(events), [4, 2]); // not the 600 s in the cache
  });

  test(`${label}: sensitiveParams leave the referrer too`, async () => {
    const referrer = 'https://shop.example/sens?token=SECRET123&email=a%40b.c&x=1';
    const page = loadPage(code, { snippet: init({ sensitiveParams: ['token', 'email'] }), referrer });
    page.fire('window', 'pagehide');
    const [view] = await sentEvents(page);
    assert.equal(view.data.referrer, 'https://shop.example/sens?x=1');
    assert.equal(view.data.url, 'https://shop.example/a?x=1');
    const direct = loadPage(code, { snippet: init({}), referrer: '' });
    direct.fire('window', 'pagehide');
    assert.equal((await sentEvents(direct))[0].data.referrer, '');
  });

  test(`${label}: a second init changes nothing: one page view, one listener`, async (t) => {
    const warn = t.mock.method(console, 'warn', () => {});
    const page = loadPage(code, { snippet: init({}) });
    page.window.eventtracker.init({ key: 'other' });
    page.window.history.pushState({}, '', '/b');
    await new Promise((resolve) => setTimeout(resolve, 30));
    const events = page.requests.flatMap((r) => r.body.events).map((e) => e.event_name);
    assert.deepEqual(events, ['$pageview', '$pageleave', '$pageview']);
    assert.equal(warn.mock.callCount(), 1);
  });

  test(`${label}: autocapture off, and Do-Not-Track when the page honours it`, async () => {
    const off = loadPage(code, { snippet: init({ autocapture: false }) });
    const dnt = loadPage(code, { snippet: init({ respectDnt: true }), navigator: { doNotTrack: '1' } });
    const gpc = loadPage(code, { snippet: init({ respectDnt: true }), navigator: { globalPrivacyControl: true } });
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual([off.requests.length, dnt.requests.length, gpc.requests.length], [0, 0, 0]);
  });
}

test('the script exports createTracker under Node and defines no globals', () => {
  const before = Object.keys(globalThis).sort();
  const mod = require(path.resolve(SOURCE));
  assert.equal(typeof mod.createTracker, 'function');
  assert.deepEqual(Object.keys(globalThis).sort(), before);
});
