/**
 * What the build tests share: contexts written from a table of files, a
 * build with its events and RUN output captured, and a layer's tar listing.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tar from 'tar-stream';
import { build, type BuildEvent, type BuildOptions, type BuildResult } from '../../src/build/build.js';
import type { Store } from '../../src/store/store.js';
import type { LayerRef } from '../../src/store/types.js';

export type ContextFiles = Record<string, string | Buffer | { symlink: string } | { content: string | Buffer; mode?: number; mtime?: Date }>;

/** Writes `files` into a new temp dir (removed by the caller). */
export function writeContext(files: ContextFiles, dir = mkdtempSync(join(tmpdir(), 'layerfs-ctx-'))): string {
  for (const [name, v] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof v === 'object' && 'symlink' in v) symlinkSync(v.symlink, path);
    else if (typeof v === 'string' || Buffer.isBuffer(v)) writeFileSync(path, v);
    else {
      writeFileSync(path, v.content, { mode: v.mode ?? 0o644 });
      if (v.mode !== undefined) writeFileSync(path, v.content, { mode: v.mode });
      if (v.mtime) utimesSync(path, v.mtime, v.mtime);
    }
  }
  return dir;
}

export interface Built extends BuildResult {
  events: BuildEvent[];
  /** RUN output. */
  out: string;
  ms: number;
}

export interface BuildFailure {
  error: Error & { exitCode?: number };
  events: BuildEvent[];
  out: string;
}

/** Builds with events and RUN output captured; throws what the build throws. */
export async function buildCaptured(root: string, opts: Omit<BuildOptions, 'root' | 'onEvent' | 'stdout' | 'stderr'>): Promise<Built> {
  const r = await tryBuild(root, opts);
  if ('error' in r) throw r.error;
  return r;
}

export async function tryBuild(root: string, opts: Omit<BuildOptions, 'root' | 'onEvent' | 'stdout' | 'stderr'>): Promise<Built | BuildFailure> {
  const dir = mkdtempSync(join(tmpdir(), 'layerfs-bout-'));
  const fd = openSync(join(dir, 'out'), 'w');
  const events: BuildEvent[] = [];
  const t0 = performance.now();
  try {
    const res = await build({ ...opts, root, onEvent: (e) => events.push(e), stdout: fd, stderr: fd });
    return { ...res, events, out: readFileSync(join(dir, 'out'), 'utf8'), ms: performance.now() - t0 };
  } catch (error) {
    return { error: error as Error, events, out: readFileSync(join(dir, 'out'), 'utf8') };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TarItem { name: string; type: string; mode: number; uid: number; gid: number; size: number; linkname?: string }

/** The entries of a stored layer blob, in order. */
export async function layerEntries(store: Store, layer: LayerRef): Promise<TarItem[]> {
  const ex = tar.extract();
  const out: TarItem[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      out.push({ name: h.name, type: h.type ?? 'file', mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0, ...(h.linkname ? { linkname: h.linkname } : {}) });
      stream.on('end', next);
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  store.openBlob(layer.digest).pipe(ex);
  await done;
  return out;
}

/** The step lines of a build, in the classic builder's words. */
export const stepLines = (events: BuildEvent[]): string[] =>
  events.flatMap((e) => (e.kind === 'step' ? [`Step ${e.n}/${e.total} : ${e.text}`] : e.kind === 'cache' ? [' ---> Using cache'] : []));
