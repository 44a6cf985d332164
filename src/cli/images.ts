/** `layerfs images`: docker's table, `--tree` for the layer tree of seed 003, `--format json`. */
import { Command } from 'commander';
import { shortId } from '../oci/digest.js';
import { humanSize, table, timeAgo } from './format.js';
import { layerTree } from '../store/layer-tree.js';
import { drawTree } from './draw-tree.js';
import { parseRef } from '../oci/reference.js';
import type { ImageRecord } from '../store/types.js';
import { checkFormat, openStore, printJson, withRoot, type RootOptions } from './store-options.js';

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
      .option('--no-trunc', 'full image IDs'),
  ).action(async (repo: string | undefined, opts: RootOptions & { tree?: boolean; format?: string; quiet?: boolean; trunc: boolean }) => {
    const format = checkFormat(opts.format, ['table', 'json']);
    const store = await openStore(opts);
    const scan = await store.scan();
    // A damaged record is named, once, and the rest still lists.
    for (const d of scan.damaged) process.stderr.write(`layerfs: warning: ${d.message} (layerfs system check --repair)\n`);
    let images = scan.images;
    if (repo !== undefined) repo = parseRef(repo).name;
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
