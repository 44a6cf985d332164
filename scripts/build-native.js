#!/usr/bin/env node
// Builds the native parts from source: fuse-native (with patches/ applied by
// patch-package just before) and native/ (layerfs_sys). See native-notes/.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const extra = process.env.npm_config_nodedir ? [`--nodedir=${process.env.npm_config_nodedir}`] : [];

for (const dir of [join(root, 'node_modules/fuse-native'), join(root, 'native')]) {
  console.log(`layerfs: building ${dir}`);
  execFileSync(process.execPath, [nodeGyp, 'rebuild', '--silent', ...extra], { cwd: dir, stdio: 'inherit' });
}
