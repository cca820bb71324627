// Minifies src/tracker.js into the file Django serves at /t.js.
// `node scripts/build.js` writes it; the tests call build() to check that the
// committed file is up to date with the source.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const SOURCE = path.join(__dirname, '..', 'src', 'tracker.js');
const OUTPUT = path.join(__dirname, '..', '..', 'events', 'static', 'events', 't.js');

// Changing these changes the output: rebuild and commit t.js with them.
const OPTIONS = {
  ecma: 2020,
  compress: { passes: 2 },
  mangle: true,
  format: { comments: false },
};

async function build() {
  const { minify } = require('terser');
  const { code } = await minify(fs.readFileSync(SOURCE, 'utf8'), OPTIONS);
  return code + '\n';
}

module.exports = { build, OUTPUT, SOURCE };

if (require.main === module) {
  build().then((code) => {
    fs.writeFileSync(OUTPUT, code);
    console.log(`${path.relative(process.cwd(), OUTPUT)}: ${Buffer.byteLength(code)} bytes`);
  });
}
