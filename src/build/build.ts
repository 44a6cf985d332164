/**
 * `build`: a Dockerfile becomes an image in the store, one image per step as
 * Docker's classic builder does it.
 * - FROM starts a stage on scratch, an earlier stage, an image in the store
 *   or one pulled from its registry;
 * - RUN runs in a container on the step's parent image and its upper dir
 *   becomes the layer (commitUpper, the path `commit` takes);
 * - COPY/ADD write into the parent's layers mounted under a fresh upper dir,
 *   which becomes the layer the same way;
 * - every other instruction changes the config and adds a history entry
 *   with `empty_layer: true`.
 * Each step's image is kept untagged with its parent, which is the build
 * cache (cache.ts). The driver reports events; the CLI prints them.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildError, DockerfileError, UnknownImageError } from '../errors.js';
import { shortId } from '../oci/digest.js';
import { parseRef } from '../oci/reference.js';
import type { HistoryEntry, ImageConfig } from '../oci/config.js';
import { pull } from '../registry/pull.js';
import { StoreTarget } from '../registry/store-adapter.js';
import type { ProgressListener } from '../registry/events.js';
import type { ConnectOptions } from '../registry/connect.js';
import { commitUpper } from '../runtime/commit.js';
import { loadState, pathsOf } from '../runtime/containers.js';
import { DEFAULT_PATH } from '../runtime/process-spec.js';
import { removeContainer } from '../runtime/remove.js';
import type { MounterName } from '../runtime/rootfs.js';
import { runContainer } from '../runtime/run.js';
import { ensureBuiltin } from '../store/hello-world.js';
import { Store } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { findCached } from './cache.js';
import { applyMetadata, DEFAULT_SHELL, METADATA_KEYWORDS, type ContainerConfig } from './config-changes.js';
import { copyFiles, makeDirs } from './copy-files.js';
import { Resolver } from '../overlay/resolve.js';
import { DockerIgnore } from './dockerignore.js';
import { parseDockerfile, parseInstruction, type Dockerfile, type Instruction, type Stage } from './dockerfile.js';
import { chownIds } from './chown.js';
import { downloadUrls, isUrl } from './add-url.js';
import { SourceRoot } from './source-root.js';
import { openStepRootfs, type StepRootfs } from './step-rootfs.js';
import { envLookup, expand, expandWords, splitRaw, type Lookup } from './words.js';

export interface BuildOptions {
  root?: string;
  /** The build context directory. */
  context: string;
  /** Default: CONTEXT/Dockerfile. */
  dockerfile?: string;
  /** The Dockerfile's text itself (`-f -`); `dockerfile` then only names it in errors (default `Dockerfile`). */
  dockerfileText?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  noCache?: boolean;
  /** `--label`: one LABEL step each, sorted by key, at the end of the last stage, as docker build adds them. */
  labels?: Record<string, string>;
  /** Build up to this stage (name or index). */
  target?: string;
  /** RUN's network: `host` (default, so package managers work) or `none`. */
  network?: 'none' | 'host';
  mounter?: MounterName;
  /** Where RUN output goes (default: ours). */
  stdout?: number;
  stderr?: number;
  onEvent?: (e: BuildEvent) => void;
  /** SIGINT, SIGTERM and SIGHUP stop a running RUN step, which fails the build (its container is cleaned up). */
  forwardSignals?: boolean;
  onPullProgress?: ProgressListener;
  /** `--pull`: a FROM image is pulled even when the store has it (for a newer one). */
  pull?: boolean;
  /** How a missing FROM or COPY --from image is pulled (registry config, `insecure`). */
  registry?: Omit<ConnectOptions, 'warn'>;
}

export type BuildEvent =
  | { kind: 'step'; n: number; total: number; text: string }
  | { kind: 'cache' }
  | { kind: 'triggers'; count: number }
  | { kind: 'running'; container: string }
  | { kind: 'removed'; container: string }
  | { kind: 'image'; id: string }
  | { kind: 'pull'; ref: string }
  | { kind: 'warning'; message: string }
  | { kind: 'built'; id: string }
  | { kind: 'tagged'; ref: string };

export interface BuildResult {
  id: string;
  tags: string[];
  steps: number;
  cached: number;
}

interface StageState {
  stage: Stage;
  image: ImageRecord | null;
  config: ImageConfig;
  /** ARGs declared in this stage, with their values. */
  args: Map<string, string | undefined>;
  /** CMD given in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

const scratchConfig = (): ImageConfig => ({
  architecture: 'amd64',
  os: 'linux',
  config: { Env: [`PATH=${DEFAULT_PATH}`] },
  rootfs: { type: 'layers', diff_ids: [] },
  history: [],
});

const NOP = '/bin/sh -c #(nop) ';
/** Build args every RUN gets without an ARG (Docker's predefined ARGs). */
const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

export async function build(opts: BuildOptions): Promise<BuildResult> {
  const emit = opts.onEvent ?? (() => {});
  // A bad -t fails before anything is built, as docker build checks its tags first.
  for (const t of opts.tags ?? []) parseRef(t);
  const contextStat = await stat(opts.context).catch(() => null);
  if (!contextStat) throw new BuildError(`unable to prepare context: path "${opts.context}" not found`);
  if (!contextStat.isDirectory()) throw new BuildError(`unable to prepare context: context must be a directory: ${opts.context}`);
  const store = await Store.open(opts.root);
  const file = opts.dockerfileText !== undefined ? opts.dockerfile ?? 'Dockerfile' : opts.dockerfile ?? join(opts.context, 'Dockerfile');
  const text = opts.dockerfileText ?? await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new BuildError(`cannot read the Dockerfile ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const df: Dockerfile = parseDockerfile(text, file);
  const ignoreText = await readFile(join(opts.context, '.dockerignore'), 'utf8').catch(() => '');
  const context = new SourceRoot(opts.context, 'build context', new DockerIgnore(ignoreText));
  const buildArgs = opts.buildArgs ?? {};
  const mounter = opts.mounter ?? 'layerfs';

  const last = targetIndex(df, opts.target);
  const stages = withLabels(df.stages.slice(0, last + 1), opts.labels ?? {}, df.escape);
  // Docker's count: the ARGs before the first FROM are steps too.
  const total = df.globalArgs.length + stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
  const declared = new Set<string>();
  let n = 0;

  const globals = new Map<string, string | undefined>();
  for (const a of df.globalArgs) {
    emit({ kind: 'step', n: ++n, total, text: a.source });
    for (const [name, def] of splitArgs(a, df.escape, envLookup(globals))) {
      declared.add(name);
      globals.set(name, buildArgs[name] ?? def);
    }
  }

  const done: StageState[] = [];
  let cached = 0;

  const where = (i: Instruction) => ({ file: df.file, line: i.line });
  const located = (err: unknown, i: Instruction) =>
    err instanceof DockerfileError && err.data.file === undefined ? new DockerfileError(err.reason, where(i)) : err;

  /** The image `ref` names: from the store, built in, or pulled. */
  const imageFor = async (ref: string, always = false): Promise<ImageRecord> => {
    try {
      if (always && ref !== 'hello-world') throw new UnknownImageError(ref);
      return await ensureBuiltin(store, ref);
    } catch (err) {
      if (!(err instanceof UnknownImageError)) throw err;
      emit({ kind: 'pull', ref });
      try {
        const res = await pull(ref, { ...opts.registry, target: new StoreTarget(store), onProgress: opts.onPullProgress, warn: (m) => emit({ kind: 'warning', message: m }) });
        return await store.resolve(res.imageId);
      } catch (pullErr) {
        throw new DockerfileError(`${ref}: not in the store, and pulling it failed: ${(pullErr as Error).message}`);
      }
    }
  };

  for (const stage of stages) {
    n++;
    emit({ kind: 'step', n, total, text: stage.from.source });
    let state: StageState;
    try {
      const base = expand(stage.base, envLookup(globals), df.escape);
      const earlier = done.find((s) => s.stage.name === base.toLowerCase());
      const image = base === 'scratch' ? null : earlier ? earlier.image : await imageFor(base, opts.pull === true);
      const config = image ? withDefaultPath(await store.config(image)) : scratchConfig();
      state = { stage, image, config, args: new Map(), cmdSet: false };
    } catch (err) {
      throw located(err, stage.from);
    }
    // The base's ONBUILD triggers run first, as part of FROM, and the image built here does not keep them.
    const triggers = state.config.config?.OnBuild ?? [];
    if (triggers.length > 0) {
      emit({ kind: 'triggers', count: triggers.length });
      const { OnBuild: _, ...rest } = state.config.config!;
      state.config = { ...state.config, config: rest };
      for (const trigger of triggers) {
        try {
          if (await runStep(state, parseInstruction(trigger, df.file, stage.from.line, df.escape))) cached++;
        } catch (err) {
          throw located(err, stage.from);
        }
      }
    }
    // FROM scratch has no image: Docker prints its ` ---> ` line all the same, empty.
    emit({ kind: 'image', id: state.image ? shortId(state.image.id) : '' });

    for (const instr of stage.instructions) {
      n++;
      emit({ kind: 'step', n, total, text: instr.source });
      try {
        const hit = await runStep(state, instr);
        if (hit) cached++;
      } catch (err) {
        throw located(err, instr);
      }
      emit({ kind: 'image', id: shortId(state.image!.id) });
    }
    done.push(state);
  }

  const unused = Object.keys(buildArgs).filter((k) => !declared.has(k) && !PROXY_ARGS.has(k)).sort();
  if (unused.length) emit({ kind: 'warning', message: `[Warning] One or more build-args [${unused.join(' ')}] were not consumed` });
  const final = done.at(-1)!.image;
  if (!final) throw new BuildError('no image was generated: the last stage is an empty FROM scratch');
  emit({ kind: 'built', id: shortId(final.id) });
  const tags: string[] = [];
  for (const t of opts.tags ?? []) {
    await store.tag(final.id, t);
    const tagged = (await store.resolve(t)).repoTags.find((r) => r.startsWith(t.includes(':') ? t : `${t}:`)) ?? t;
    tags.push(tagged);
    emit({ kind: 'tagged', ref: tagged });
  }
  return { id: final.id, tags, steps: n, cached };

  /** Runs one instruction; true when the cache answered. */
  async function runStep(state: StageState, instr: Instruction): Promise<boolean> {
    const env = state.config.config?.Env ?? [];
    const lookup = envLookup(state.args, env);
    const parent = state.image?.id ?? '';
    const created = new Date().toISOString();
    const nextConfig = (config: ContainerConfig, createdBy: string, entry: Partial<HistoryEntry> = {}): ImageConfig => ({
      ...state.config,
      config,
      created,
      history: [...(state.config.history ?? []), { created, created_by: createdBy, ...entry }],
    });
    const cachedImage = async (createdBy: string, config?: ContainerConfig) => {
      const hit = opts.noCache ? null : await findCached(store, parent, createdBy, config);
      if (hit) {
        emit({ kind: 'cache' });
        state.image = hit;
        state.config = await store.config(hit);
      }
      return hit !== null;
    };
    const metadataStep = async (config: ContainerConfig, createdBy: string, extra: Partial<ImageConfig> = {}) => {
      if (await cachedImage(createdBy, config)) return true;
      const next = { ...nextConfig(config, createdBy, { empty_layer: true }), ...extra };
      state.image = await store.addImage({ config: next, layers: state.image?.layers ?? [], parent });
      state.config = next;
      return false;
    };
    const current: ContainerConfig = state.config.config ?? {};

    if (instr.keyword === 'ARG') {
      const pairs = splitArgs(instr, df.escape, lookup);
      for (const [name, def] of pairs) {
        declared.add(name);
        state.args.set(name, buildArgs[name] ?? def ?? globals.get(name));
      }
      return metadataStep(current, `${NOP} ARG ${pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(' ')}`);
    }
    if (instr.keyword === 'MAINTAINER') {
      const author = expand(instr.args, lookup, df.escape);
      return metadataStep(current, `${NOP} MAINTAINER ${author}`, { author });
    }
    if (METADATA_KEYWORDS.has(instr.keyword)) {
      const applied = applyMetadata(current, instr, lookup, df.escape);
      // WORKDIR makes its directory when the image lacks it, in a layer of its own, as Docker's builder does.
      if (instr.keyword === 'WORKDIR' && !hasPath(state.image, applied.config.WorkingDir!)) {
        return workdirStep(state, applied.config, `${NOP} ${applied.text}`, parent, nextConfig, cachedImage, metadataStep);
      }
      if (instr.keyword === 'CMD') state.cmdSet = true;
      // A new ENTRYPOINT drops a CMD inherited from the base image, as Docker does.
      if (instr.keyword === 'ENTRYPOINT' && !state.cmdSet) delete applied.config.Cmd;
      return metadataStep(applied.config, `${NOP} ${applied.text}`);
    }
    if (instr.keyword === 'RUN') return runInstruction(state, instr, current, parent, nextConfig, cachedImage);
    return copyInstruction(state, instr, lookup, parent, nextConfig, cachedImage);
  }

  async function runInstruction(
    state: StageState, instr: Instruction, current: ContainerConfig, parent: string,
    nextConfig: (c: ContainerConfig, createdBy: string) => ImageConfig, cachedImage: (createdBy: string) => Promise<boolean>,
  ): Promise<boolean> {
    const command = instr.json ?? [...(current.Shell ?? DEFAULT_SHELL), instr.args];
    const envNames = new Set((current.Env ?? []).map((e) => e.split('=')[0]));
    // Sorted, as Docker's builder records them (`|2 A=1 B=2 /bin/sh -c ...`).
    const argEnv = [...state.args].filter(([k, v]) => v !== undefined && !envNames.has(k)).map(([k, v]) => `${k}=${v}`).sort();
    const createdBy = `${argEnv.length ? `|${argEnv.length} ${argEnv.join(' ')} ` : ''}${command.join(' ')}`;
    // The proxy args need no ARG, and stay out of the history and the cache key unless declared, as in Docker.
    const proxies = Object.entries(buildArgs).filter(([k]) => PROXY_ARGS.has(k) && !state.args.has(k) && !envNames.has(k)).map(([k, v]) => `${k}=${v}`);
    if (await cachedImage(createdBy)) return true;
    if (!state.image) throw new DockerfileError('RUN needs a base image with a shell: this stage is FROM scratch');
    const base = state.image;
    let containerId: string | undefined;
    let initPid: number | undefined;
    let interrupted: NodeJS.Signals | undefined;
    // An interrupt ends the step (its PID 1 would ignore a forwarded SIGINT) and so the build.
    const stop = (sig: NodeJS.Signals) => {
      interrupted ??= sig;
      try {
        if (initPid !== undefined) process.kill(initPid, 'SIGKILL');
      } catch {
        // it has exited already
      }
    };
    const signals: NodeJS.Signals[] = opts.forwardSignals ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : [];
    for (const sig of signals) process.on(sig, stop);
    const cleanup = async () => {
      for (const sig of signals) process.off(sig, stop);
      if (containerId === undefined) return;
      await removeContainer(store.root, await loadState(store.root, containerId));
      emit({ kind: 'removed', container: shortId(containerId) });
    };
    try {
      const res = await runContainer({
        root: store.root, image: base.id, command, entrypoint: [], env: [...argEnv, ...proxies], network: opts.network ?? 'host',
        mounter, stdout: opts.stdout, stderr: opts.stderr, remove: false,
        // The line comes before the command runs, so its output cannot overtake it.
        onCreate: (s) => {
          containerId = s.id;
          emit({ kind: 'running', container: shortId(s.id) });
        },
        onStart: (s) => {
          initPid = s.initPid;
          if (interrupted) stop(interrupted);
        },
        log: (m) => emit({ kind: 'warning', message: m }),
      });
      containerId = res.id;
      if (interrupted) throw new BuildError(`interrupted by ${interrupted} while running '${command.join(' ')}'`, 130);
      if (res.exitCode !== 0) {
        throw new BuildError(`The command '${command.join(' ')}' returned a non-zero code: ${res.exitCode}`, res.exitCode);
      }
      const config = nextConfig(current, createdBy);
      state.image = await commitUpper(store, pathsOf(store.root, res.id).upper, base, config, { parent, name: res.id });
      state.config = config;
    } finally {
      await cleanup();
    }
    return false;
  }

  async function copyInstruction(
    state: StageState, instr: Instruction, lookup: Lookup, parent: string,
    nextConfig: (c: ContainerConfig, createdBy: string) => ImageConfig, cachedImage: (createdBy: string) => Promise<boolean>,
  ): Promise<boolean> {
    const add = instr.keyword === 'ADD';
    const words = instr.json ? instr.json.map((w) => expand(w, lookup, df.escape)) : expandWords(instr.args, lookup, df.escape);
    if (words.length < 2) throw new DockerfileError(`${instr.keyword} needs at least one source and a destination`);
    const dest = words.at(-1)!;
    const patterns = words.slice(0, -1);
    const urls = patterns.filter(isUrl);
    if (urls.length > 0 && !add) throw new DockerfileError(`COPY ${urls[0]}: COPY takes no URL (ADD does)`);
    if (urls.length > 0 && urls.length < patterns.length) throw new DockerfileError(`ADD ${urls[0]}: URLs and local sources in one ADD are not supported by layerfs build (use two)`);
    if (urls.length > 0 && instr.flags.from !== undefined) throw new DockerfileError(`ADD --from with a URL ${urls[0]}`);
    const chmod = instr.flags.chmod;
    if (chmod !== undefined && !/^[0-7]{3,4}$/.test(chmod)) throw new DockerfileError(`${instr.keyword} --chmod=${chmod}: not an octal mode`);
    const current = state.config.config ?? {};
    const destPath = dest.startsWith('/') ? dest : `${(current.WorkingDir || '/').replace(/\/?$/, '/')}${dest}`;

    let from: { root: SourceRoot; rootfs?: StepRootfs; downloads?: string } = { root: context };
    try {
      if (instr.flags.from !== undefined) from = await fromSource(state, expand(instr.flags.from, lookup, df.escape));
      let names = patterns;
      if (urls.length > 0) {
        const got = await downloadUrls(urls, dest.endsWith('/') || urls.length > 1, join(store.root, 'tmp'), instr.flags.checksum);
        from = { root: new SourceRoot(got.dir, 'the download'), downloads: got.dir };
        names = got.names;
      }
      const sources = await from.root.resolve(names, instr.keyword);
      const digest = await from.root.digest(sources);
      // Docker's form: `COPY --chown=1:1 file:<sha256> in dest ` (--from is not named: the digest covers what it took).
      // DEST as written is enough: a WORKDIR that would resolve it differently makes a different parent.
      const flagText = Object.entries(instr.flags).filter(([k]) => k !== 'from').map(([k, v]) => `--${k}=${v} `).join('');
      const createdBy = `${NOP}${instr.keyword} ${flagText}${digest} in ${dest} `;
      if (await cachedImage(createdBy)) return true;

      const rootfs = await openStepRootfs(store, state.image ? store.layerDirs(state.image) : [], mounter, true);
      try {
        const owner = instr.flags.chown !== undefined ? await chownIds(rootfs.merged, expand(instr.flags.chown, lookup, df.escape)) : undefined;
        await copyFiles(rootfs.merged, {
          sources, from: from.root, dest: destPath, destIsDir: dest.endsWith('/'), add: add && urls.length === 0, preserveOwner: instr.flags.from !== undefined && owner === undefined,
          ...(owner ? { owner } : {}), ...(chmod ? { chmod: parseInt(chmod, 8) } : {}), scratch: join(store.root, 'tmp'),
        });
        await rootfs.unmount();
        const config = nextConfig(current, createdBy);
        state.image = await commitUpper(store, rootfs.upper, state.image, config, { parent, name: `build-${process.pid}` });
        state.config = config;
      } finally {
        await rootfs.dispose();
      }
      return false;
    } finally {
      await from.rootfs?.dispose();
      if (from.downloads) await rm(from.downloads, { recursive: true, force: true });
    }
  }

  async function workdirStep(
    state: StageState, config: ContainerConfig, createdBy: string, parent: string,
    nextConfig: (c: ContainerConfig, createdBy: string) => ImageConfig, cachedImage: (createdBy: string) => Promise<boolean>,
    metadataStep: (c: ContainerConfig, createdBy: string) => Promise<boolean>,
  ): Promise<boolean> {
    if (await cachedImage(createdBy)) return true;
    const rootfs = await openStepRootfs(store, state.image ? store.layerDirs(state.image) : [], mounter, true);
    try {
      await makeDirs(rootfs.merged, config.WorkingDir!);
      await rootfs.unmount();
      // Through a symlink the directory may have been there after all: then nothing changed.
      if ((await readdir(rootfs.upper)).length === 0) return await metadataStep(config, createdBy);
      const next = nextConfig(config, createdBy);
      state.image = await commitUpper(store, rootfs.upper, state.image, next, { parent, name: `build-${process.pid}` });
      state.config = next;
      return false;
    } finally {
      await rootfs.dispose();
    }
  }

  /** Whether `path` is in the image's layers; a symlink on the way reads as missing (the mount then tells). */
  function hasPath(image: ImageRecord | null, path: string): boolean {
    if (!image || path === '/') return path === '/';
    try {
      return new Resolver(store.layerDirs(image).map((root) => ({ root, upper: false }))).resolve(path).kind === 'found';
    } catch {
      return false;
    }
  }

  /** `COPY --from=`: an earlier stage (by name or index) or an image, mounted read-only. */
  async function fromSource(state: StageState, name: string): Promise<{ root: SourceRoot; rootfs: StepRootfs }> {
    const byIndex = /^\d+$/.test(name) ? Number(name) : -1;
    if (byIndex >= state.stage.index || state.stage.name === name.toLowerCase()) {
      throw new DockerfileError(`COPY --from=${name}: a stage can only copy from an earlier stage`);
    }
    const stage = byIndex >= 0 ? done[byIndex] : done.find((s) => s.stage.name === name.toLowerCase());
    const image = stage ? stage.image : await imageFor(name);
    const rootfs = await openStepRootfs(store, image ? store.layerDirs(image) : [], mounter, false);
    return { root: new SourceRoot(rootfs.merged, stage ? `stage ${name}` : `image ${name}`, null, true), rootfs };
  }
}

function withLabels(stages: Stage[], labels: Record<string, string>, escape: string): Stage[] {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return stages;
  // Taken as given (no substitution): quoted so that the lexer reads them back as they are.
  const special = new Set([escape, '"', '$']);
  const q = (v: string) => `"${[...v].map((c) => (special.has(c) ? escape + c : c)).join('')}"`;
  const extra: Instruction[] = keys.map((k) => ({ keyword: 'LABEL', line: 0, flags: {}, args: `${q(k)}=${q(labels[k]!)}`, source: `LABEL ${k}=${labels[k]}` }));
  const lastStage = stages.at(-1)!;
  return [...stages.slice(0, -1), { ...lastStage, instructions: [...lastStage.instructions, ...extra] }];
}

/** A base without PATH gets the default one, which the built image then keeps, as with Docker's builder. */
function withDefaultPath(config: ImageConfig): ImageConfig {
  const env = config.config?.Env ?? [];
  if (env.some((e) => e.startsWith('PATH='))) return config;
  return { ...config, config: { ...config.config, Env: [...env, `PATH=${DEFAULT_PATH}`] } };
}

/** `ARG NAME[=default] ...`: each name with its substituted default, all against the variables before the line. */
function splitArgs(instr: Instruction, escape: string, lookup: Lookup): Array<[string, string | undefined]> {
  return splitRaw(instr.args, escape).map((word) => {
    const eq = word.indexOf('=');
    return eq < 0 ? [word, undefined] : [word.slice(0, eq), expand(word.slice(eq + 1), lookup, escape)];
  });
}

function targetIndex(df: Dockerfile, target: string | undefined): number {
  if (target === undefined) return df.stages.length - 1;
  const i = df.stages.findIndex((s) => s.name === target.toLowerCase());
  if (i < 0) throw new BuildError(`target stage "${target}" could not be found`);
  return i;
}
