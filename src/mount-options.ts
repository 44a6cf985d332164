/**
 * Parses the overlay mount options the way fuse-overlayfs and the kernel take
 * them: `-o lowerdir=L1:L2,upperdir=U,workdir=W,...`, given once or several
 * times. `\:` and `\,` escape a colon or comma inside a path. Unknown options
 * become warnings, never errors, so podman's and mount(8)'s extras pass.
 */
import { UsageError } from './errors.js';
import { parseIdMapping, type IdMapping } from './id-mapping.js';

export interface MountOptions {
  lowerdirs: string[];
  upperdir?: string;
  workdir?: string;
  readonly: boolean;
  volatile: boolean;
  /** metacopy=on: metadata-only copy-up in the kernel's format (off by default). */
  metacopy: boolean;
  uidMapping?: IdMapping;
  gidMapping?: IdMapping;
  squashUid?: number;
  squashGid?: number;
  /**
   * daemon=own: this mount gets a process of its own instead of being served
   * by the shared mount server (src/mount-server.ts).
   */
  daemon: 'shared' | 'own';
  /** FUSE mount options we pass through to libfuse as given (e.g. fsname=). */
  fuse: string[];
  warnings: string[];
}

/** Options of mount(8), fstab and fuse-overlayfs that need no action here. */
const ACCEPTED = new Set([
  'rw', 'suid', 'nosuid', 'dev', 'nodev', 'exec', 'noexec', 'atime', 'noatime', 'relatime', 'strictatime',
  'nodiratime', 'async', 'sync', 'auto', 'noauto', 'user', 'nouser', 'users', 'nofail', '_netdev', 'defaults',
  'allow_other', 'allow_root', 'default_permissions', 'debug', 'fast_ino', 'plugins', 'noacl', 'context',
  'index', 'redirect_dir', 'xino', 'userxattr', 'nfs_export', 'threaded', 'writeback',
]);
/** Options that carry through to libfuse unchanged. */
const FUSE_PASS = new Set([
  'fsname', 'subtype', 'max_readahead', 'max_write', 'entry_timeout', 'attr_timeout', 'negative_timeout', 'engine', 'threads', 'passthrough',
]);
/** libfuse's cache timeouts: seconds, a number >= 0 (libfuse itself would take anything strtod reads). */
const TIMEOUTS = new Set(['entry_timeout', 'attr_timeout', 'negative_timeout']);

/**
 * Splits on `sep` unless escaped with a backslash. With `keep`, escapes stay
 * in the pieces (to be split again later); without, `\:` `\,` `\\` lose theirs.
 */
export function splitEscaped(s: string, sep: string, keep = false): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && i + 1 < s.length) {
      const next = s[i + 1]!;
      cur += keep || !(next === sep || next === '\\' || next === ',' || next === ':') ? ch + next : next;
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}

const unescape = (s: string) => splitEscaped(s, '\0').join('');

/** The directories of `lowerdir=` (top first); an empty one (`/l1:`, `/l1::/l2`) is refused, as the kernel refuses it. */
function parseLowerdirs(value: string): string[] {
  const dirs = splitEscaped(value, ':');
  if (dirs.some((d) => d === '')) {
    throw new UsageError(`mount option lowerdir=${value}: empty directory in the list (a leading, trailing or doubled ':')`);
  }
  return dirs;
}

function parsePath(name: string, value: string): string {
  if (value === '') throw new UsageError(`mount option ${name}=: empty path`);
  return unescape(value);
}

function parseId(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`mount option ${name}=${value}: not a number`);
  return Number(value);
}

export function parseMountOptions(optionStrings: string[]): MountOptions {
  const o: MountOptions = { lowerdirs: [], readonly: false, volatile: false, metacopy: false, daemon: 'shared', fuse: [], warnings: [] };
  for (const raw of optionStrings.flatMap((o) => splitEscaped(o, ',', true))) {
    if (raw === '') continue; // podman writes "workdir=W," — an empty option is harmless
    const eq = raw.indexOf('=');
    const name = eq < 0 ? raw : raw.slice(0, eq);
    const value = eq < 0 ? '' : raw.slice(eq + 1);
    switch (name) {
      case 'lowerdir':
        o.lowerdirs = parseLowerdirs(value);
        break;
      case 'upperdir':
        o.upperdir = parsePath(name, value);
        break;
      case 'workdir':
        o.workdir = parsePath(name, value);
        break;
      case 'ro':
        o.readonly = true;
        break;
      case 'volatile':
        o.volatile = true;
        break;
      case 'metacopy':
        if (value !== 'on' && value !== 'off') throw new UsageError(`mount option metacopy=${value}: use on or off`);
        o.metacopy = value === 'on';
        break;
      case 'daemon':
        if (value !== 'shared' && value !== 'own') throw new UsageError(`mount option daemon=${value}: use shared or own`);
        o.daemon = value;
        break;
      case 'uidmapping':
        o.uidMapping = parseIdMapping(value);
        break;
      case 'gidmapping':
        o.gidMapping = parseIdMapping(value);
        break;
      case 'squash_to_uid':
        o.squashUid = parseId(name, value);
        break;
      case 'squash_to_gid':
        o.squashGid = parseId(name, value);
        break;
      case 'squash_to_root':
        o.squashUid = 0;
        o.squashGid = 0;
        break;
      default:
        if (TIMEOUTS.has(name) && !/^(\d+\.?\d*|\.\d+)$/.test(value)) {
          throw new UsageError(`mount option ${raw}: not a number of seconds >= 0`);
        }
        if (FUSE_PASS.has(name)) o.fuse.push(raw);
        else if (!ACCEPTED.has(name)) o.warnings.push(`unknown mount option '${raw}' ignored`);
    }
  }
  if (o.lowerdirs.length === 0) throw new UsageError('mount option lowerdir= is required');
  if ((o.upperdir === undefined) !== (o.workdir === undefined)) {
    throw new UsageError('mount options upperdir= and workdir= go together');
  }
  if (o.upperdir === undefined) o.readonly = true;
  return o;
}

/**
 * The options' directories made absolute against `cwd`, the caller's working
 * directory, as kernel overlayfs and fuse-overlayfs take relative ones (the
 * mount daemon runs in '/'). Not normalized: `..` stays for the kernel to walk.
 */
export function withAbsolutePaths<T extends Pick<MountOptions, 'lowerdirs' | 'upperdir' | 'workdir'>>(o: T, cwd = process.cwd()): T {
  const abs = (p: string) => (p.startsWith('/') ? p : cwd.endsWith('/') ? cwd + p : `${cwd}/${p}`);
  return {
    ...o,
    lowerdirs: o.lowerdirs.map(abs),
    upperdir: o.upperdir === undefined ? undefined : abs(o.upperdir),
    workdir: o.workdir === undefined ? undefined : abs(o.workdir),
  };
}

/** A path escaped for a `-o` option (`\\`, `\:`, `\,`), so it parses back unchanged. */
export const escapePath = (p: string): string => p.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/,/g, '\\,');

/** What `formatMountOptions` writes: the directories, plus any of the typed options. */
export type MountOptionsInput = Pick<MountOptions, 'lowerdirs'> & Partial<Omit<MountOptions, 'lowerdirs' | 'warnings'>>;

/** `ID:MAPPED:LEN[:...]`, as `parseIdMapping` reads it. */
export const formatIdMapping = (m: IdMapping): string => m.map((r) => `${r.disk}:${r.shown}:${r.len}`).join(':');

/**
 * The one serializer of mount options, the inverse of `parseMountOptions`:
 * `lowerdir=…[,upperdir=…,workdir=…][,metacopy=on,…]`, paths escaped.
 * Appended after other options it wins (the last `lowerdir=` is the one used).
 */
export function formatMountOptions(o: MountOptionsInput): string {
  const parts = [`lowerdir=${o.lowerdirs.map(escapePath).join(':')}`];
  if (o.upperdir !== undefined) parts.push(`upperdir=${escapePath(o.upperdir)}`);
  if (o.workdir !== undefined) parts.push(`workdir=${escapePath(o.workdir)}`);
  if (o.readonly && o.upperdir !== undefined) parts.push('ro');
  if (o.volatile) parts.push('volatile');
  if (o.metacopy) parts.push('metacopy=on');
  if (o.uidMapping) parts.push(`uidmapping=${formatIdMapping(o.uidMapping)}`);
  if (o.gidMapping) parts.push(`gidmapping=${formatIdMapping(o.gidMapping)}`);
  if (o.squashUid !== undefined) parts.push(`squash_to_uid=${o.squashUid}`);
  if (o.squashGid !== undefined) parts.push(`squash_to_gid=${o.squashGid}`);
  if (o.daemon === 'own') parts.push('daemon=own');
  parts.push(...(o.fuse ?? []));
  return parts.join(',');
}
