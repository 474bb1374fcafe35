#!/usr/bin/env node
// bindings/node/find-plugbay.js — tells binding.gyp where libplugbay's headers and library are.
//
// In order: PLUGBAY_INCLUDE_DIR and PLUGBAY_LIB_DIR (a built tree: SOURCE/include
// and BUILD/lib); PLUGBAY_PREFIX (an install: PREFIX/include, PREFIX/lib);
// pkg-config plugbay; the source tree this folder sits in (../../include and
// ../../build/lib). Prints the include folder ("include") or the library
// folder ("lib"), which binding.gyp also uses as the addon's rpath.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

function pkgConfig(flag) {
  try {
    return execFileSync('pkg-config', [flag, 'plugbay'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function find() {
  const env = process.env;
  if (env.PLUGBAY_INCLUDE_DIR || env.PLUGBAY_LIB_DIR) {
    if (!env.PLUGBAY_INCLUDE_DIR || !env.PLUGBAY_LIB_DIR)
      throw new Error('set both PLUGBAY_INCLUDE_DIR (SOURCE/include) and PLUGBAY_LIB_DIR (BUILD/lib)');
    return { include: env.PLUGBAY_INCLUDE_DIR, lib: env.PLUGBAY_LIB_DIR };
  }
  if (env.PLUGBAY_PREFIX)
    return { include: path.join(env.PLUGBAY_PREFIX, 'include'), lib: path.join(env.PLUGBAY_PREFIX, 'lib') };
  const inc = pkgConfig('--variable=includedir');
  const lib = pkgConfig('--variable=libdir');
  if (inc && lib)
    return { include: inc, lib };
  const tree = path.resolve(__dirname, '..', '..');
  return { include: path.join(tree, 'include'), lib: path.join(tree, 'build', 'lib') };
}

const where = find();
for (const [what, dir] of Object.entries(where)) {
  const probe = what === 'include' ? path.join(dir, 'plugbay', 'plugbay.h') : path.join(dir, 'libplugbay.so');
  if (!fs.existsSync(probe))
    throw new Error(`libplugbay not found: no ${probe}; set PLUGBAY_PREFIX to an install, or PLUGBAY_INCLUDE_DIR and PLUGBAY_LIB_DIR to a built tree, or install plugbay.pc for pkg-config`);
}
process.stdout.write(path.resolve(where[process.argv[2] === 'lib' ? 'lib' : 'include']));
