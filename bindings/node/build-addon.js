#!/usr/bin/env node
// bindings/node/build-addon.js — builds the addon with node-gyp against the headers of the node that runs it.
//
// Node's headers are taken from this node's own prefix (/usr for /usr/bin/node)
// when they are there, so nothing is downloaded; node-gyp's download is the
// fallback for a node installed without them. Where libplugbay is: find-plugbay.js.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const prefix = path.resolve(path.dirname(process.execPath), '..');
const args = [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild'];
if (fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi')))
  args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { cwd: __dirname, stdio: 'inherit' });
process.exit(r.status ?? 1);
