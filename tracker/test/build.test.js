'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const zlib = require('node:zlib');
const { build, SCRIPTS } = require('../scripts/build.js');

// Most bytes of each served file: the tracker ≤ 5 KB, the links add-on ≤ 1 KB.
const MAX_BYTES = { tracker: 5120, links: 1024 };

for (const [name, { output }] of Object.entries(SCRIPTS)) {
  const file = output.split('/').pop();

  test(`the committed ${file} is at most ${MAX_BYTES[name]} bytes`, () => {
    const code = fs.readFileSync(output);
    assert.ok(code.length <= MAX_BYTES[name], `${code.length} bytes (gzip ${zlib.gzipSync(code).length})`);
  });

  test(`the committed ${file} is built from the current source (npm run build)`, async (t) => {
    try {
      require.resolve('terser');
    } catch (e) {
      return t.skip('terser is not installed: npm ci');
    }
    assert.equal(fs.readFileSync(output, 'utf8'), await build(name), 'stale: run `npm run build` in tracker/');
  });
}
