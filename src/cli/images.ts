/** `layerfs images`: docker's table and `--format`, `--tree` for the layer tree of seed 003. */
import { Command } from 'commander';
import { shortId } from '../oci/digest.js';
import { goTime, humanSize, timeAgo } from './format.js';
import { layerTree } from '../store/layer-tree.js';
import { drawTree } from './draw-tree.js';
import { parseRef } from '../oci/reference.js';
import type { ImageRecord } from '../store/types.js';
import { formatRows, type Listing, type Row } from './output-format.js';
import { openStore, printJson, withRoot, type RootOptions } from './store-options.js';
import { UsageError } from '../errors.js';
import type { Store } from '../store/store.js';

/** Untagged images that another image was built on: a build's intermediate steps, hidden unless `-a`, as docker hides them. */
function withoutIntermediates(images: ImageRecord[]): ImageRecord[] {
  const parents = new Set(images.map((i) => i.parent));
  return images.filter((i) => i.repoTags.length > 0 || !parents.has(i.id));
}

/** docker's reference filter: a glob over `name` or `name:tag` where `*` stops at `/` (Go's path.Match). */
function globMatch(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(text);
}

/**
 * `-f dangling=true|false`, `reference=GLOB`, `before=IMAGE`, `since=IMAGE`,
 * `label=KEY[=VALUE]`: values of one key are alternatives, keys must all
 * match, as docker's. Returns the images kept and, for reference, which tags.
 */
async function imageFilter(store: Store, images: ImageRecord[], filters: string[]): Promise<{ images: ImageRecord[]; tag: (t: string) => boolean }> {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq);
    if (eq <= 0 || !['dangling', 'reference', 'before', 'since', 'label'].includes(key)) {
      throw new UsageError(`invalid filter '${f}': use dangling=, reference=, before=, since= or label=`);
    }
    if (key === 'dangling' && !['true', 'false', '1', '0'].includes(f.slice(eq + 1))) throw new UsageError(`invalid filter '${f}': dangling is true or false`);
    by.set(key, [...(by.get(key) ?? []), f.slice(eq + 1)]);
  }
  const refs = by.get('reference');
  const tag = (t: string) => refs === undefined || refs.some((p) => globMatch(p, parseRef(t).name) || globMatch(p, `${parseRef(t).name}:${parseRef(t).tag}`));
  const createdOf = async (ref: string) => Date.parse((await store.resolve(ref)).created ?? '');
  const before = by.has('before') ? Math.min(...(await Promise.all(by.get('before')!.map(createdOf)))) : undefined;
  const since = by.has('since') ? Math.max(...(await Promise.all(by.get('since')!.map(createdOf)))) : undefined;
  const kept: ImageRecord[] = [];
  for (const img of images) {
    const created = Date.parse(img.created ?? '');
    if (by.has('dangling') && by.get('dangling')!.some((v) => (v === 'true' || v === '1') !== (img.repoTags.length === 0))) continue;
    if (refs !== undefined && !img.repoTags.some(tag)) continue;
    if (before !== undefined && !(created < before)) continue;
    if (since !== undefined && !(created > since)) continue;
    if (by.has('label')) {
      const labels = (await store.config(img)).config?.Labels ?? {};
      const has = (l: string) => (l.includes('=') ? labels[l.slice(0, l.indexOf('='))] === l.slice(l.indexOf('=') + 1) : l in labels);
      if (!by.get('label')!.every(has)) continue;
    }
    kept.push(img);
  }
  return { images: kept, tag };
}

const sizeOf = (img: ImageRecord) => img.layers.reduce((n, l) => n + l.unpackedSize, 0);

export const IMAGES: Listing = {
  table: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}',
  headers: {
    Containers: 'CONTAINERS', CreatedAt: 'CREATED AT', CreatedSince: 'CREATED', Digest: 'DIGEST', ID: 'IMAGE ID',
    Repository: 'REPOSITORY', SharedSize: 'SHARED SIZE', Size: 'SIZE', Tag: 'TAG', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'SIZE',
  },
};
const WITH_DIGEST = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

/**
 * One row per tag, as docker lists them: with the repository's digest when
 * digests are asked for, a `<none>` tag row for a repository known only by
 * digest, and one `<none>` row for an image with neither.
 */
function rows(images: ImageRecord[], repo: string | undefined, tag: string | undefined, opts: { trunc: boolean; digests: boolean; tagFilter?: (t: string) => boolean }): Row[] {
  return images.flatMap((img) => {
    const tagged = new Map<string, string[]>();
    const digested = new Map<string, string[]>();
    for (const t of img.repoTags) {
      if (opts.tagFilter && !opts.tagFilter(t)) continue;
      const r = parseRef(t);
      tagged.set(r.name, [...(tagged.get(r.name) ?? []), r.tag]);
    }
    for (const d of img.repoDigests ?? []) {
      const at = d.lastIndexOf('@');
      digested.set(d.slice(0, at), [...(digested.get(d.slice(0, at)) ?? []), d.slice(at + 1)]);
    }
    const out: Array<[string, string, string]> = [];
    for (const [name, tags] of tagged) {
      const digests = opts.digests ? digested.get(name) ?? [] : [];
      digested.delete(name);
      for (const tag of tags) {
        if (digests.length === 0) out.push([name, tag, '<none>']);
        for (const d of digests) out.push([name, tag, d]);
      }
    }
    for (const [name, digests] of digested) {
      if (opts.digests) for (const d of digests) out.push([name, '<none>', d]);
      // docker lists a repository known only by digest as NAME <none>; we do for an untagged image,
      // not for each registry a tagged one was pushed to under another name (docker pushes only tags)
      else if (tagged.size === 0) out.push([name, '<none>', '']);
    }
    if (img.repoTags.length === 0 && (img.repoDigests ?? []).length === 0) out.push(['<none>', '<none>', '<none>']);
    const size = humanSize(sizeOf(img));
    return out
      .filter(([name, t]) => (repo === undefined || name === repo) && (tag === undefined || t === tag))
      .map(([name, tag, digest]) => ({
        Containers: 'N/A', CreatedAt: goTime(img.created), CreatedSince: img.created ? timeAgo(img.created) : '',
        Digest: digest, ID: opts.trunc ? shortId(img.id) : img.id, Repository: name, SharedSize: 'N/A', Size: size,
        Tag: tag, UniqueSize: 'N/A', VirtualSize: size,
      }));
  });
}

export function register(program: Command): void {
  withRoot(
    program
      .command('images')
      .description('list images')
      .argument('[repository]', 'only this repository (REPOSITORY:TAG: only that tag)')
      .option('--tree', 'draw the layer tree: shared layers once, sizes and tags')
      .option('--format <format>', "table (default), json (one object a line), 'table TEMPLATE' or a Go TEMPLATE such as '{{.Repository}}:{{.Tag}}'")
      .option('--digests', 'show digests (the registries the image was pulled from or pushed to)')
      .option('-q, --quiet', 'only image IDs')
      .option('-a, --all', "also a build's intermediate images (the build cache)")
      .option('--no-trunc', 'full image IDs')
      .option('-f, --filter <K=V>', 'dangling=true|false, reference=GLOB, before=IMAGE, since=IMAGE, label=KEY[=VALUE]; may repeat', (v: string, prev: string[]) => [...prev, v], [] as string[]),
  ).action(async (repo: string | undefined, opts: RootOptions & { filter: string[]; all?: boolean; tree?: boolean; format?: string; digests?: boolean; quiet?: boolean; trunc: boolean }) => {
    const store = await openStore(opts);
    const scan = await store.scan();
    // A damaged record is named, once, and the rest still lists.
    for (const d of scan.damaged) process.stderr.write(`layerfs: warning: ${d.message} (layerfs system check --repair)\n`);
    let images = scan.images;
    if (!opts.all) images = withoutIntermediates(images);
    // `images busybox` lists every tag of the repository, `images busybox:1.36` that one, as docker.
    const tag = repo !== undefined && /:[^/]*$/.test(repo.split('@')[0]!) ? parseRef(repo).tag : undefined;
    if (repo !== undefined) repo = parseRef(repo).name;
    if (repo !== undefined) images = images.filter((i) => i.repoTags.some((t) => parseRef(t).name === repo && (tag === undefined || parseRef(t).tag === tag)));
    const { images: kept, tag: tagFilter } = await imageFilter(store, images, opts.filter);
    images = kept;
    if (opts.tree) {
      const tree = layerTree(images);
      if (opts.format === 'json') printJson(tree);
      else process.stdout.write(drawTree(tree));
      return;
    }
    // docker's -q is its {{.ID}} template: one line per row, so an image with two tags shows twice.
    if (opts.quiet) {
      process.stdout.write(rows(images, repo, tag, { trunc: opts.trunc, digests: false, tagFilter }).map((r) => `${String(r.ID)}\n`).join(''));
      return;
    }
    const digests = opts.digests === true || (opts.format ?? '').includes('{{.Digest}}');
    const format = opts.digests && (opts.format === undefined || opts.format === 'table') ? WITH_DIGEST : opts.format;
    process.stdout.write(formatRows(format, rows(images, repo, tag, { trunc: opts.trunc, digests, tagFilter }), IMAGES));
  });
}
