// Minifies the browser scripts into the files Django serves: src/tracker.js as /t.js,
// src/links.js (outbound links and downloads) as /l.js. `node scripts/build.js` writes
// them; the tests call build() to check that the committed files are up to date.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const SRC = path.join(__dirname, '..', 'src');
const STATIC = path.join(__dirname, '..', '..', 'events', 'static', 'events');
// source → served file
const SCRIPTS = {
  tracker: { source: path.join(SRC, 'tracker.js'), output: path.join(STATIC, 't.js') },
  links: { source: path.join(SRC, 'links.js'), output: path.join(STATIC, 'l.js') },
};
const SOURCE = SCRIPTS.tracker.source;
const OUTPUT = SCRIPTS.tracker.output;

// Changing these changes the output: rebuild and commit the files with them.
const OPTIONS = {
  ecma: 2020,
  compress: { passes: 2 },
  mangle: true,
  format: { comments: false },
};

async function build(name = 'tracker') {
  const { minify } = require('terser');
  const { code } = await minify(fs.readFileSync(SCRIPTS[name].source, 'utf8'), OPTIONS);
  return code + '\n';
}

module.exports = { build, OUTPUT, SOURCE, SCRIPTS };

if (require.main === module) {
  (async () => {
    for (const name of Object.keys(SCRIPTS)) {
      const code = await build(name);
      fs.writeFileSync(SCRIPTS[name].output, code);
      console.log(`${path.relative(process.cwd(), SCRIPTS[name].output)}: ${Buffer.byteLength(code)} bytes`);
    }
  })();
}
