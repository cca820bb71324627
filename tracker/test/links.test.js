// The links add-on as a browser runs it, in a VM context with a fake page: once from
// the source and once from the committed minified file, alone and beside the tracker.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const vm = require('node:vm');
const { SCRIPTS } = require('../scripts/build.js');

function loadPage(codes, { downloads } = {}) {
  const listeners = {};
  const beacons = [];
  const document = {
    visibilityState: 'visible',
    currentScript: { src: 'https://et.example/l.js', dataset: downloads ? { downloads } : {} },
    addEventListener: (type, fn, capture) => (listeners[type] ||= []).push({ fn, capture }),
    title: 'Shop',
    referrer: '',
    documentElement: { scrollHeight: 1000 },
  };
  const window = {
    document,
    console,
    URL,
    Blob,
    crypto: globalThis.crypto,
    setTimeout,
    clearTimeout,
    addEventListener: (type, fn) => (listeners[type] ||= []).push({ fn }),
    location: { href: 'https://shop.example/products?id=1', host: 'shop.example' },
    history: { pushState() {} },
    screen: { width: 1280 },
    navigator: {
      sendBeacon(url, data) {
        beacons.push({ url, data });
        return true;
      },
    },
    fetch: async () => new Response('{}', { status: 200 }),
  };
  window.window = window;
  vm.createContext(window);
  for (const code of codes) vm.runInContext(code, window);
  // A click on a link: the event's target is an element inside the <a>.
  const click = (href, { type = 'click', button = 0 } = {}) => {
    const anchor = { href: new URL(href, window.location.href).href };
    const target = { closest: (selector) => (selector == 'a[href]' && href !== null ? anchor : null) };
    for (const { fn } of listeners[type] || []) fn({ type, button, target });
  };
  const fire = (type) => (listeners[type] || []).forEach(({ fn }) => fn());
  return { window, click, fire, beacons, listeners };
}

// As plain values: the page's arrays and objects belong to another realm.
const queued = (page) => JSON.parse(JSON.stringify(page.window.eventtracker.map((call) => call.slice(1))));

const links = SCRIPTS.links;
for (const [label, file] of [
  ['source', links.source],
  ['minified', links.output],
]) {
  const code = fs.readFileSync(file, 'utf8');

  test(`${label}: outbound links and file downloads become events, without query or fragment`, () => {
    const page = loadPage([code]);

    page.click('https://docs.other.example/guide?ref=shop#part-2');
    page.click('/files/Price-List.PDF?v=3');
    page.click('https://cdn.other.example/app.dmg');

    assert.deepEqual(queued(page), [
      ['$outbound', { url: 'https://docs.other.example/guide' }],
      ['$download', { url: 'https://shop.example/files/Price-List.PDF' }],
      ['$download', { url: 'https://cdn.other.example/app.dmg' }],
    ]);
  });

  test(`${label}: links within the site, mailto: and clicks off links are not events`, () => {
    const page = loadPage([code]);

    page.click('/pricing');
    page.click('https://shop.example/about');
    page.click('mailto:hello@shop.example');
    page.click('javascript:void(0)');
    page.click(null);

    assert.equal(page.window.eventtracker, undefined);
  });

  test(`${label}: a middle click counts, a right click does not`, () => {
    const page = loadPage([code]);

    page.click('https://other.example/', { type: 'auxclick', button: 2 });
    page.click('https://other.example/', { type: 'auxclick', button: 1 });

    assert.deepEqual(queued(page), [['$outbound', { url: 'https://other.example/' }]]);
    assert.ok(page.listeners.click.every((listener) => listener.capture === true));
  });

  test(`${label}: data-downloads names the file extensions`, () => {
    const page = loadPage([code], { downloads: 'zip,epub' });

    page.click('/a.pdf');
    page.click('/a.zip');

    assert.deepEqual(queued(page), [['$download', { url: 'https://shop.example/a.zip' }]]);
  });

  test(`${label}: beside the tracker, a click is sent before the page goes away`, async () => {
    const tracker = fs.readFileSync(SCRIPTS.tracker.output, 'utf8');
    const init = 'window.eventtracker = [["init", {key: "k", autocapture: false}]];';
    const page = loadPage([init, code, code, tracker]); // the add-on twice: one listener

    page.click('https://other.example/out');
    page.fire('pagehide');

    assert.equal(page.beacons.length, 1);
    const sent = JSON.parse(await page.beacons[0].data.text()).events;
    assert.deepEqual(
      sent.map((e) => [e.event_name, e.data]),
      [['$outbound', { url: 'https://other.example/out', screen_width: 1280 }]], // the page's device
    );
  });
}
