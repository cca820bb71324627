// eventtracker browser tracker, served minified as /t.js (`npm run build`).
//
// The queue, batching, retry and persistence logic is createTracker(env): every
// global it needs (fetch, sendBeacon, storage, clock, timers, randomness) comes in
// through `env`, so the Node tests drive it with fakes. Under Node (CommonJS) the
// file only exports createTracker (no `document`); in a browser it wires one tracker to the page
// and exposes it as window.eventtracker.
//
// Delivery: every event gets its uuid when tracked and keeps it through retries,
// reloads and beacons; the server stores each uuid once, so sending an event twice
// is harmless and losing one is the thing to avoid.
(function (root) {
  'use strict';

  // fetch keepalive and sendBeacon refuse bodies over 64 KiB (a quota shared by all
  // of the page's pending keepalive requests); keep each body well below it.
  const MAX_BODY = 60000;
  const ANON = 'et_anon_id';
  const IDENT = 'et_distinct_id';

  function createTracker(env) {
    const cfg = { batchSize: 20, flushInterval: 2000, maxQueue: 1000, host: env.host };
    let url = null;
    let storeName = null;
    let queue = []; // undelivered events, oldest first, including those in flight
    const inFlight = new Set(); // uuids of events in a request that has not answered
    const seen = new Set(); // uuids this page has held: see readStored()
    let active = 0; // requests in flight
    let attempt = 0; // consecutive retryable failures
    let retryAt = 0;
    let timer = null;
    let timerDue = 0;
    let saving = false;
    let warned = false;

    const warn = (...args) => {
      try {
        console.warn('eventtracker:', ...args);
      } catch (e) {}
    };
    // Storage may be missing, throw on access (private mode, blocked cookies) or be
    // full: memory stays the source of truth and storage is best effort. Cookieless:
    // nothing is stored at all.
    const load = (name) => {
      try {
        return cfg.cookieless ? null : env.storage.getItem(name);
      } catch (e) {
        return null;
      }
    };
    const store = (name, value) => {
      try {
        if (!cfg.cookieless) value == null ? env.storage.removeItem(name) : env.storage.setItem(name, value);
      } catch (e) {}
    };
    const iso = () => new Date(env.now()).toISOString();
    // UTF-8 length of the JSON; JSON.stringify escapes lone surrogates, so
    // encodeURIComponent cannot throw here.
    const size = (event) => encodeURIComponent(JSON.stringify(event)).replace(/%../g, '.').length + 1;
    const pending = () => queue.filter((e) => !inFlight.has(e.uuid));
    // Cookieless: no id at all (the server derives a daily one); else a stored random
    // one, made when first needed (after init, which may ask for cookieless).
    const newAnon = () => {
      const id = cfg.cookieless ? '' : env.uuid();
      store(ANON, id);
      return id;
    };
    let distinctId = null;
    const currentId = () => (distinctId ??= load(IDENT) || load(ANON) || newAnon());

    // Public methods never throw into the host page.
    const safe = (fn) => (...args) => {
      try {
        return fn(...args);
      } catch (e) {
        warn(e);
      }
    };

    // Consecutive batches of at most `limit` events and MAX_BODY bytes (an event
    // bigger than that is refused by track(), so every batch holds at least one).
    function split(events, limit) {
      const batches = [];
      let batch = [];
      let bytes = 50; // the envelope: {"events":[],"sent_at":"…"}
      for (const e of events) {
        const n = size(e);
        if (batch.length && (batch.length >= limit || bytes + n > MAX_BODY)) {
          batches.push(batch);
          batch = [];
          bytes = 50;
        }
        batch.push(e);
        bytes += n;
      }
      if (batch.length) batches.push(batch);
      return batches;
    }

    const body = (events) => JSON.stringify({ events, sent_at: iso() });

    // Events stored by this page or by other tabs of the site. Uuids this page has
    // held are skipped: either they are in `queue` or they were delivered, and a
    // stale copy must not bring them back.
    function readStored() {
      try {
        return JSON.parse(load(storeName)).filter((e) => e.uuid && !seen.has(e.uuid));
      } catch (e) {
        return [];
      }
    }

    // Tabs share one stored queue: merging keeps the other tabs' events (still
    // unsent) instead of overwriting them; the newest maxQueue are kept.
    function save() {
      saving = false;
      if (storeName) store(storeName, JSON.stringify(readStored().concat(queue).slice(-cfg.maxQueue)));
    }

    // A burst of track() calls writes storage once, after the current task.
    function saveSoon() {
      if (!saving) {
        saving = true;
        Promise.resolve().then(save);
      }
    }

    function remove(events) {
      const done = new Set(events.map((e) => e.uuid));
      queue = queue.filter((e) => !done.has(e.uuid));
      saveSoon();
    }

    // Keep only the earliest wake-up.
    function schedule(ms) {
      const due = env.now() + ms;
      if (timer !== null && timerDue <= due) return;
      env.clearTimeout(timer);
      timerDue = due;
      timer = env.setTimeout(() => {
        timer = null;
        safe(pump)();
      }, ms);
    }

    // Send now when a full batch is waiting, otherwise within flushInterval.
    function kick() {
      const n = pending().length;
      if (n >= cfg.batchSize) pump();
      else if (n) schedule(cfg.flushInterval);
    }

    function backoff(retryAfter) {
      const seconds = parseFloat(retryAfter); // the HTTP-date form is not used by the API
      if (seconds >= 0) return seconds * 1000;
      // 1 s, 2 s, 4 s … 30 s, each scaled by a random 50–100 % so that the pages
      // that failed together do not come back together.
      return Math.min(30000, 1000 * 2 ** attempt) * (0.5 + env.random() / 2);
    }

    // POST one batch. 2xx: delivered. 429, 5xx, network error: kept and retried
    // after a backoff, with the same uuids. Any other status is final: dropped.
    function send(events) {
      events.forEach((e) => inFlight.add(e.uuid));
      active++;
      return Promise.resolve()
        .then(() =>
          env.fetch(url, {
            method: 'POST',
            body: body(events),
            keepalive: true,
            // text/plain and no custom header make a CORS "simple request": no
            // preflight. The key travels in the query string (see init).
            headers: { 'Content-Type': 'text/plain' },
          }),
        )
        .then((r) => (r.status == 429 || r.status >= 500 ? { retry: backoff(r.headers.get('Retry-After')) } : r))
        .catch(() => ({ retry: backoff() }))
        .then(safe((outcome) => settle(events, outcome)));
    }

    function settle(events, { status, retry }) {
      active--;
      events.forEach((e) => inFlight.delete(e.uuid));
      if (retry !== undefined) {
        attempt++;
        retryAt = env.now() + retry;
        return schedule(retry);
      }
      attempt = retryAt = 0;
      if (status >= 300 && !warned) {
        warned = true; // once per page: a wrong key would otherwise warn on every batch
        warn(`HTTP ${status}: batch of ${events.length} event(s) dropped`);
      }
      remove(events);
      kick();
    }

    // One request at a time, so that a failing server sees one retry per backoff.
    function pump() {
      if (!url || active) return;
      const wait = retryAt - env.now();
      if (wait > 0) return schedule(wait);
      const batch = split(pending(), cfg.batchSize)[0];
      if (batch) send(batch);
    }

    // The page is being hidden or unloaded: hand everything not yet in flight to
    // sendBeacon, which the browser delivers after the page is gone (fetch
    // keepalive when it refuses, e.g. over its quota). A beacon's answer cannot be
    // read, so accepted events count as sent; but while the server is failing
    // (attempt > 0) they also stay queued and stored, to be sent again later.
    function beacon() {
      if (!url) return;
      for (const batch of split(pending(), Infinity)) {
        let queued = false;
        try {
          queued = env.sendBeacon(url, body(batch));
        } catch (e) {}
        if (!queued) send(batch);
        else if (!attempt) remove(batch);
      }
      save(); // now: the page may not get another task
    }

    function init(options) {
      if (url) return warn('init() called twice, ignored');
      Object.assign(cfg, options);
      if (!cfg.key || !cfg.host) return warn('init() needs a key and a host');
      // The ingest key goes in the query string: sendBeacon cannot set headers, and
      // a header would make every fetch a preflighted CORS request.
      url = `${String(cfg.host).replace(/\/+$/, '')}/api/eventlogs/batch/?key=${encodeURIComponent(cfg.key)}`;
      // One stored queue per destination, so that events tracked for one key are
      // never sent with another (a djb2 hash keeps the key itself out of the name).
      storeName = 'et_queue_' + [...url].reduce((h, c) => ((h * 33) ^ c.charCodeAt(0)) >>> 0, 5381).toString(36);
      const stored = readStored(); // left by an earlier page: resend
      stored.forEach((e) => seen.add(e.uuid));
      queue = stored.concat(queue).slice(-cfg.maxQueue);
      save();
      kick();
    }

    function track(name, data) {
      if (!name || typeof name != 'string') return warn('track() needs an event name');
      const event = { event_name: name, data: data || {}, timestamp: iso(), distinct_id: currentId(), uuid: env.uuid() };
      // Also throws on what JSON cannot encode (cycles, BigInt): refused here, not
      // later in a batch.
      if (size(event) > MAX_BODY - 50) return warn(`event "${name}" is over ${MAX_BODY} bytes, dropped`);
      seen.add(event.uuid);
      queue.push(event);
      if (queue.length > cfg.maxQueue) queue.shift(); // oldest first
      saveSoon();
      kick();
    }

    const api = {
      init,
      track,
      // Events tracked from now on carry this id (stored: it outlives the page).
      identify(id) {
        if (id == null || id === '') return warn('identify() needs an id');
        distinctId = String(id);
        store(IDENT, distinctId);
      },
      // Forget the identified user (log-out): back to a new anonymous id.
      reset() {
        store(IDENT, null);
        distinctId = newAnon();
      },
      distinctId: currentId,
      // Send now rather than within flushInterval (a pending backoff still
      // applies), or with beacons when the page is about to go away.
      flush: (useBeacon) => (useBeacon ? beacon() : pump()),
      // The snippet's queued calls, ["track", name, data], also work after load.
      push: (...calls) => calls.forEach((call) => api[call[0]](...call.slice(1))),
    };
    for (const name in api) api[name] = safe(api[name]);
    return api;
  }

  const w = root;
  const d = w.document;
  const n = w.navigator;
  if (!d) {
    if (typeof module == 'object') module.exports = { createTracker };
    return;
  }
  // Page views without code (autocapture, on unless init says `autocapture: false`):
  // one when init runs, one on every history change of a single-page app (pushState,
  // popstate; hash changes too with `hashChanges: true`) and one when the page comes
  // back from the back-forward cache. A $pageleave each time the page stops being seen
  // (another page, hidden, closed, or into the cache: whichever comes first, once),
  // with the seconds it was visible since it was last shown and the deepest scroll
  // (percent): a page hidden and shown again sends one more when next left, so its
  // leaves add up to its visible time. `sensitiveParams` are removed from the url and
  // the referrer; every event carries the screen width (one device for the page). The
  // referrer of a view after a history change is the page before it, as a browser's
  // own navigation would say (document.referrer keeps naming the site's way in).
  let cfg = {};
  let page = null;
  let since = 0; // when the page was last shown; 0: hidden, or its $pageleave sent
  let depth = 0;
  const on = (target, type, fn, options) => target.addEventListener(type, fn, options);
  const hidden = () => d.visibilityState == 'hidden';
  const scrolled = () => {
    const e = d.documentElement;
    depth = Math.max(depth, Math.min(100, Math.round((100 * (w.scrollY + w.innerHeight)) / e.scrollHeight)) || 0);
  };
  const leave = () => {
    if (page && since) tracker.track('$pageleave', { url: page, seconds: Math.round((Date.now() - since) / 1000), scroll: depth });
    since = 0;
  };
  // Seen (again): the visible time counts from now.
  const show = () => {
    since = !hidden() && Date.now();
  };
  const clean = (href) => {
    const u = new URL(href);
    (cfg.sensitiveParams || []).forEach((p) => u.searchParams.delete(p));
    return u;
  };
  const view = () => {
    const u = clean(w.location.href);
    if (!cfg.hashChanges) u.hash = '';
    if (u.href == page) return;
    leave();
    show();
    depth = 0;
    scrolled();
    tracker.track('$pageview', { url: u.href, title: d.title, referrer: page || (d.referrer && clean(d.referrer).href), language: n.language });
    page = u.href;
  };
  const before = w.eventtracker; // the snippet's array of calls, if any
  if (before && before.track) return; // the script was included twice
  let storage;
  try {
    storage = w.localStorage; // reading it throws when storage is blocked
  } catch (e) {}
  const crypto = w.crypto;
  const script = d.currentScript;
  const tracker = createTracker({
    fetch: (u, o) => w.fetch(u, o),
    sendBeacon: (u, b) => n.sendBeacon && n.sendBeacon(u, new Blob([b], { type: 'text/plain' })),
    storage,
    now: Date.now,
    setTimeout: (f, ms) => w.setTimeout(f, ms),
    clearTimeout: (t) => w.clearTimeout(t),
    random: Math.random,
    // randomUUID exists only in secure contexts (https, localhost); elsewhere a blob
    // URL ends in a random (v4) uuid, by the File API's definition.
    uuid: (u) =>
      crypto.randomUUID ? crypto.randomUUID() : (URL.revokeObjectURL((u = URL.createObjectURL(new Blob()))), u.slice(-36)),
    // Default host: where this script was loaded from (none: init must name one).
    host: script && script.src && new URL(script.src).origin,
  });
  const init = tracker.init;
  const track = tracker.track;
  // Every event carries the screen width: the page's events get one $device_type.
  tracker.track = (name, data) => track(name, (data || {}).constructor == Object ? { screen_width: w.screen.width, ...data } : data);
  // Never throws into the page (a missing history API, say): the tracker still works.
  tracker.init = (options) => {
    if (cfg.key) return init(options); // a second init: ignored (and warned about) as before
    cfg = { autocapture: true, cookieless: true, ...options };
    init(cfg);
    // Do-Not-Track / Global Privacy Control, when the page asks the tracker to honour them.
    if (cfg.respectDnt && (n.doNotTrack == '1' || n.globalPrivacyControl)) tracker.track = () => {};
    try {
      if (cfg.autocapture) {
        const h = w.history;
        const push = h.pushState;
        h.pushState = function () {
          push.apply(this, arguments);
          view();
        };
        on(w, 'popstate', view);
        if (cfg.hashChanges) on(w, 'hashchange', view);
        on(w, 'scroll', scrolled, { passive: true });
        view();
      }
    } catch (e) {}
  };
  // pagehide is the last event a page reliably gets (unload is not fired on
  // mobile or with the back-forward cache); hidden covers tabs closed later.
  const hide = () => {
    leave();
    tracker.flush(true);
  };
  on(w, 'pagehide', hide);
  on(d, 'visibilitychange', () => (hidden() ? hide() : since || show()));
  // Back from the back-forward cache: a page view of its own.
  on(w, 'pageshow', (e) => {
    if (e.persisted && page) {
      page = null;
      view();
    }
  });
  w.eventtracker = tracker;
  if (Array.isArray(before)) tracker.push(...before);
})(globalThis);
