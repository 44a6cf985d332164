/** `layerfs images`: docker's table, `--tree` for the layer tree of seed 003, `--format json`. */
import { Command } from 'commander';
import { shortId } from '../oci/digest.js';
import { humanSize, table, timeAgo } from './format.js';
import { layerTree } from '../store/layer-tree.js';
import { drawTree } from './draw-tree.js';
import { parseRef } from '../oci/reference.js';
import type { ImageRecord } from '../store/types.js';
import { checkFormat, openStore, printJson, withRoot, type RootOptions } from './store-options.js';

/** Untagged images that another image was built on: a build's intermediate steps, hidden unless `-a`, as docker hides them. */
function withoutIntermediates(images: ImageRecord[]): ImageRecord[] {
  const parents = new Set(images.map((i) => i.parent));
  return images.filter((i) => i.repoTags.length > 0 || !parents.has(i.id));
}

const sizeOf = (img: ImageRecord) => img.layers.reduce((n, l) => n + l.unpackedSize, 0);

/** One row per tag (an untagged image gets one `<none>` row), as docker lists them. */
function rows(images: ImageRecord[], repo: string | undefined) {
  return images.flatMap((img) => {
    const tags = img.repoTags.length ? img.repoTags.map(parseRef) : [{ name: '<none>', tag: '<none>' }];
    return tags.filter((t) => repo === undefined || t.name === repo).map((t) => ({ repository: t.name, tag: t.tag, img }));
  });
}

export function register(program: Command): void {
  withRoot(
    program
      .command('images')
      .description('list images')
      .argument('[repository]', 'only this repository')
      .option('--tree', 'draw the layer tree: shared layers once, sizes and tags')
      .option('--format <format>', 'table or json', 'table')
      .option('-q, --quiet', 'only image IDs')
      .option('-a, --all', "also a build's intermediate images (the build cache)")
      .option('--no-trunc', 'full image IDs'),
  ).action(async (repo: string | undefined, opts: RootOptions & { all?: boolean; tree?: boolean; format?: string; quiet?: boolean; trunc: boolean }) => {
    const format = checkFormat(opts.format, ['table', 'json']);
    const store = await openStore(opts);
    let images = await store.images();
    if (!opts.all) images = withoutIntermediates(images);
    if (repo !== undefined) images = images.filter((i) => i.repoTags.some((t) => parseRef(t).name === repo));
    if (opts.tree) {
      const tree = layerTree(images);
      if (format === 'json') printJson(tree);
      else process.stdout.write(drawTree(tree));
      return;
    }
    const id = (img: ImageRecord) => (opts.trunc ? shortId(img.id) : img.id);
    if (format === 'json') {
      return printJson(
        rows(images, repo).map(({ repository, tag, img }) => ({
          Repository: repository, Tag: tag, ID: img.id, CreatedAt: img.created ?? null, Size: sizeOf(img), Layers: img.layers.length,
        })),
      );
    }
    if (opts.quiet) {
      process.stdout.write([...new Set(images.map(id))].map((i) => i + '\n').join(''));
      return;
    }
    process.stdout.write(
      table(
        ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
        rows(images, repo).map(({ repository, tag, img }) => [repository, tag, id(img), timeAgo(img.created), humanSize(sizeOf(img))]),
      ),
    );
  });
}
