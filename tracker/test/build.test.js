'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const zlib = require('node:zlib');
const { build, OUTPUT } = require('../scripts/build.js');

const MAX_BYTES = 5120;

test('the committed t.js is at most 5 KB', () => {
  const code = fs.readFileSync(OUTPUT);
  assert.ok(code.length <= MAX_BYTES, `${code.length} bytes (gzip ${zlib.gzipSync(code).length})`);
});

test('the committed t.js is built from the current source (npm run build)', async (t) => {
  try {
    require.resolve('terser');
  } catch (e) {
    return t.skip('terser is not installed: npm ci');
  }
  assert.equal(fs.readFileSync(OUTPUT, 'utf8'), await build(), 'stale: run `npm run build` in tracker/');
});
