/**
 * `--mount type=bind|tmpfs,…`, docker's long form, turned into the `-v` and
 * `--tmpfs` specs the runtime keeps. As docker: a bind's source must exist
 * (where `-v` makes a missing directory), keys may be spelled `src`/`source`,
 * `dst`/`destination`/`target`, and `readonly` stands alone or takes a boolean.
 */
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { UsageError } from '../errors.js';
import { parseBytes } from '../store/disk-space.js';

export type MountFlag = { kind: 'volume'; spec: string } | { kind: 'tmpfs'; spec: string };

const TRUE = new Set(['', 'true', '1']);
const FALSE = new Set(['false', '0']);

export function parseMountFlag(text: string): MountFlag {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (key === '') throw new UsageError(`invalid --mount '${text}': an empty field`);
    fields.set(key, eq < 0 ? '' : part.slice(eq + 1));
  }
  const take = (...names: string[]) => {
    const name = names.find((n) => fields.has(n));
    if (name === undefined) return undefined;
    const v = fields.get(name)!;
    for (const n of names) fields.delete(n);
    return v;
  };
  const type = take('type') ?? 'volume';
  const target = take('target', 'destination', 'dst');
  const source = take('source', 'src');
  const ro = take('readonly', 'ro');
  if (ro !== undefined && !TRUE.has(ro) && !FALSE.has(ro)) throw new UsageError(`invalid --mount '${text}': readonly=${ro} is not a boolean`);
  const readonly = ro !== undefined && TRUE.has(ro);
  if (target === undefined || !posix.isAbsolute(target)) throw new UsageError(`invalid --mount '${text}': target must be an absolute path`);
  // No SELinux or bind propagation here: binds are rprivate, as our -v's.
  for (const ignored of ['consistency', 'bind-propagation', 'z']) {
    const v = take(ignored);
    if (ignored === 'bind-propagation' && v !== undefined && v !== 'rprivate' && v !== 'private') throw new UsageError(`invalid --mount '${text}': bind-propagation=${v} is not supported (binds are rprivate)`);
  }
  let out: MountFlag;
  if (type === 'bind') {
    if (source === undefined || !posix.isAbsolute(source)) throw new UsageError(`invalid --mount '${text}': source must be an absolute path`);
    // Kept as a -v spec (HOST:CTR), where a colon would split the path.
    if (`${source}${target}`.includes(':')) throw new UsageError(`invalid --mount '${text}': a path with ':' is not supported`);
    if (!existsSync(source)) throw new UsageError(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
    out = { kind: 'volume', spec: `${source}:${target}${readonly ? ':ro' : ''}` };
  } else if (type === 'tmpfs') {
    if (source !== undefined) throw new UsageError(`invalid --mount '${text}': a tmpfs takes no source`);
    const size = take('tmpfs-size');
    const mode = take('tmpfs-mode');
    if (mode !== undefined && !/^[0-7]{1,4}$/.test(mode)) throw new UsageError(`invalid --mount '${text}': tmpfs-mode=${mode} is not an octal mode`);
    const opts = [...(readonly ? ['ro'] : []), ...(size !== undefined ? [`size=${parseBytes(size, 'tmpfs-size')}`] : []), ...(mode !== undefined ? [`mode=${mode}`] : [])];
    out = { kind: 'tmpfs', spec: opts.length ? `${target}:${opts.join(',')}` : target };
  } else if (type === 'volume') {
    throw new UsageError(`invalid --mount '${text}': named volumes are not supported (use type=bind or type=tmpfs)`);
  } else throw new UsageError(`invalid --mount '${text}': type must be bind or tmpfs`);
  const left = [...fields.keys()];
  if (left.length > 0) throw new UsageError(`invalid --mount '${text}': unexpected key '${left[0]}'`);
  return out;
}
