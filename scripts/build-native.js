#!/usr/bin/env node
// Builds the native parts from source (npm runs this as postinstall, in this
// repository and when layerfs is installed as a dependency):
// - native/ (layerfs_sys, layerfs_engine, layerfs-init): always; a failure
//   fails the install.
// - fuse-native (engine=fuse-native), an optional dependency: patched here
//   with patches/fuse-native+2.2.6.patch (the `patch` program, on the copy
//   npm installed, wherever it put it: ours or the consumer's node_modules),
//   then rebuilt. In this repository a failure fails the install; installed as
//   a dependency it only disables engine=fuse-native, and the reason goes to
//   native/build/fuse-native.json, which src/fuse/binding.ts reports.
// See native-notes/fuse-native.md.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const FUSE_NATIVE_VERSION = '2.2.6';
const PATCH = join(root, `patches/fuse-native+${FUSE_NATIVE_VERSION}.patch`);
const STATUS = join(root, 'native/build/fuse-native.json');
/** Installed into someone else's node_modules (not this repository's checkout). */
const asDependency = root.split(sep).includes('node_modules');

/** node-gyp: ours (a devDependency) in this repository, else the one npm bundles (npm names it in npm_config_node_gyp). */
function nodeGyp() {
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js')];
  } catch { /* not installed: a consumer's install */ }
  const npmGyp = process.env.npm_config_node_gyp;
  if (npmGyp && existsSync(npmGyp)) return npmGyp.endsWith('.js') ? [process.execPath, npmGyp] : [npmGyp];
  // Run by hand: the node-gyp of the npm installed beside this node.
  const besideNode = join(dirname(dirname(process.execPath)), 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  if (existsSync(besideNode)) return [process.execPath, besideNode];
  throw new Error('layerfs: node-gyp not found; run this through npm (npm install, npm rebuild layerfs), which provides its own');
}

/**
 * Node's headers: npm's nodedir setting if any (node-gyp cannot download them
 * here), else the ones installed beside this node (Debian: /usr/include/node).
 */
function nodedir() {
  if (process.env.npm_config_nodedir) return [`--nodedir=${process.env.npm_config_nodedir}`];
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include/node/node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function gyp(dir, stdio = 'inherit') {
  console.log(`layerfs: building ${dir}`);
  const [cmd, ...args] = nodeGyp();
  execFileSync(cmd, [...args, 'rebuild', '--silent', ...nodedir()], { cwd: dir, stdio });
}

/** Applies our patch to fuse-native in `dir` unless it is applied already. */
function patchFuseNative(dir) {
  const patch = (...args) => execFileSync('patch', ['-p3', '--batch', '--silent', '-d', dir, '-i', PATCH, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    patch('--forward', '--dry-run');
  } catch (err) {
    try {
      patch('--reverse', '--dry-run');
      return; // applied before (npm install again, npm rebuild)
    } catch { /* neither way: report the forward failure */ }
    if (err.code === 'ENOENT') throw new Error('the `patch` program is not installed (Debian: apt-get install patch)');
    const said = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim().split('\n')[0] || err.message;
    throw new Error(`${PATCH} does not apply to ${dir}: ${said}`);
  }
  patch('--forward');
  console.log(`layerfs: applied ${PATCH} to ${dir}`);
}

/** Patches and builds fuse-native; returns why not, or null when built. */
function buildFuseNative() {
  let dir;
  try {
    dir = dirname(require.resolve('fuse-native/package.json'));
  } catch {
    return 'fuse-native is not installed (an optional dependency: npm leaves it out when its own install fails, or with --omit=optional)';
  }
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (version !== FUSE_NATIVE_VERSION) return `fuse-native ${version} at ${dir}: layerfs patches ${FUSE_NATIVE_VERSION} only`;
  try {
    patchFuseNative(dir);
  } catch (err) {
    return err.message;
  }
  try {
    gyp(dir);
  } catch (err) {
    return `building the patched fuse-native at ${dir} failed (it needs libfuse-dev, pkg-config and a C compiler): ${err.message.split('\n')[0]}`;
  }
  return null;
}

gyp(join(root, 'native'));

const reason = buildFuseNative();
mkdirSync(dirname(STATUS), { recursive: true });
writeFileSync(STATUS, `${JSON.stringify(reason === null ? { ok: true } : { ok: false, reason })}\n`);
if (reason !== null) {
  if (!asDependency) throw new Error(`layerfs: ${reason}`);
  console.warn(`layerfs: engine=fuse-native disabled: ${reason}\nlayerfs: the default engine (engine=layerfs) is built and works without it`);
}
