// The README's HTML snippets never throw into the page: not when the tracker's script
// fails to load (blocked, offline), nor when it loaded before them.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const README = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
// The inline scripts of each ```html block (a <script src> is the part that may fail).
const snippets = [...README.matchAll(/^```html\n([\s\S]*?)^```/gm)]
  .map(([, block]) => [...block.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]))
  .filter((scripts) => scripts.length);

test('the README has snippets that call the tracker', () => {
  assert.ok(snippets.length >= 2);
  assert.ok(snippets.every((scripts) => scripts.some((code) => code.includes('eventtracker'))));
});

for (const [index, scripts] of snippets.entries()) {
  test(`snippet ${index + 1}: its calls wait in the queue when the script never loads`, () => {
    const window = {};
    window.window = window;
    vm.createContext(window);
    assert.doesNotThrow(() => scripts.forEach((code) => vm.runInContext(code, window)));
    assert.ok(Array.isArray(window.eventtracker) && window.eventtracker.length > 0);
  });

  test(`snippet ${index + 1}: its calls reach a tracker that loaded first`, () => {
    const calls = [];
    const window = { eventtracker: { track() {}, push: (...queued) => calls.push(...queued) } };
    window.window = window;
    vm.createContext(window);
    scripts.forEach((code) => vm.runInContext(code, window));
    assert.equal(calls[0][0], 'init');
  });
}
