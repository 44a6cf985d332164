/** `layerfs system check|df|prune`: the store's health and disk use, as Docker's `system` commands. */
import { Command } from 'commander';
import { createInterface } from 'node:readline';
import { checkSystem, diskUsage, diskUsageVerbose, prune } from '../runtime/system.js';
import { humanSize, timeAgo } from './format.js';
import { parseRef } from '../oci/reference.js';
import { shortId } from '../oci/digest.js';
import { containerRow, CONTAINERS } from './ps.js';
import { openStore, withRoot, type RootOptions } from './store-options.js';
import { formatRows, type Listing } from './output-format.js';

/** docker system df's columns. */
const DF: Listing = {
  table: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
  headers: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
};

/** docker's `system df -v` sections for what this store has: images and containers. */
async function verboseUsage(store: Awaited<ReturnType<typeof openStore>>): Promise<string> {
  const usage = await diskUsageVerbose(store);
  const images = usage.images.flatMap(({ image, size, shared, containers }) =>
    (image.repoTags.length ? image.repoTags.map((t) => parseRef(t)) : [{ name: '<none>', tag: '<none>' }]).map((r) => ({
      Repository: r.name, Tag: r.tag, ID: shortId(image.id), CreatedSince: image.created ? timeAgo(image.created) : 'N/A',
      Size: humanSize(size), SharedSize: humanSize(shared), UniqueSize: humanSize(size - shared), Containers: String(containers),
    })),
  );
  const containers = usage.containers.map(({ container, size }) => ({ ...containerRow(container, true), Size: humanSize(size) }));
  return `Images space usage:\n\n${formatRows(undefined, images, DF_IMAGES)}\nContainers space usage:\n\n${formatRows(undefined, containers, DF_CONTAINERS)}`;
}

const DF_IMAGES: Listing = {
  table: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
  headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' },
};
const DF_CONTAINERS: Listing = { ...CONTAINERS, table: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}' };

const percent = (part: number, whole: number) => (whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '');

/** Docker's prompt: only "y" or "yes" goes on; end of input is a no. */
async function confirm(question: string): Promise<boolean> {
  process.stdout.write(question);
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

export function register(program: Command): void {
  // `layerfs --root DIR system df` puts --root after `system`: it counts for the subcommands too.
  const system = withRoot(program.command('system').description('check, show the disk use of and prune the store'));
  const rootOf = (opts: RootOptions): RootOptions => ({ root: opts.root ?? (system.opts() as RootOptions).root });

  withRoot(
    system
      .command('check')
      .description('read every record and follow every reference; report damage and what nothing uses')
      .option('--repair', 'rebuild what can be rebuilt, remove damaged records and what nothing reaches'),
  ).action(async (opts: RootOptions & { repair?: boolean }) => {
    const store = await openStore(rootOf(opts));
    const { problems, removed } = await checkSystem(store, { repair: opts.repair });
    for (const p of problems) process.stdout.write(`${p.what}: ${p.reason}${opts.repair ? ` (repaired: ${p.repair})` : ` (--repair: ${p.repair})`}\n`);
    if (opts.repair && removed.length) process.stdout.write(`Removed ${removed.length} unused layer(s)\n`);
    if (problems.length === 0) process.stdout.write('No problems found\n');
    else if (!opts.repair) process.exitCode = 1;
  });

  withRoot(
    system
      .command('df')
      .description('disk space used by images, containers and layers')
      .option('--format <format>', "table (default), json (one object a line), 'table TEMPLATE' or a Go TEMPLATE such as '{{.Type}}: {{.Size}}'")
      .option('-v, --verbose', 'each image (shared and unique size, containers) and each container (what it wrote)'),
  ).action(async (opts: RootOptions & { format?: string; verbose?: boolean }) => {
    if (opts.verbose) {
      process.stdout.write(await verboseUsage(await openStore(rootOf(opts))));
      return;
    }
    const rows = (await diskUsage(await openStore(rootOf(opts)))).map((r) => ({
      Type: r.type, TotalCount: String(r.total), Active: String(r.active), Size: humanSize(r.size), Reclaimable: `${humanSize(r.reclaimable)}${percent(r.reclaimable, r.size)}`,
    }));
    process.stdout.write(formatRows(opts.format, rows, DF));
  });

  withRoot(
    system
      .command('prune')
      .description('remove stopped containers, dangling images and unused layers')
      .option('-a, --all', 'remove every image no container uses, not only dangling ones')
      .option('-f, --force', 'do not prompt for confirmation'),
  ).action(async (opts: RootOptions & { all?: boolean; force?: boolean }) => {
    if (!opts.force) {
      const warning = [
        'WARNING! This will remove:',
        '  - all stopped containers',
        opts.all ? '  - all images without at least one container associated to them' : '  - all dangling images',
        '  - all layers no image or container uses',
        '',
        'Are you sure you want to continue? [y/N] ',
      ].join('\n');
      if (!(await confirm(warning))) return;
    }
    const r = await prune(await openStore(rootOf(opts)), { all: opts.all });
    if (r.containers.length) process.stdout.write(`Deleted Containers:\n${r.containers.map((c) => c + '\n').join('')}\n`);
    const lines = r.images.flatMap((i) => [...i.untagged.map((t) => `untagged: ${t}`), ...i.deleted.map((d) => `deleted: ${d}`)]);
    if (lines.length) process.stdout.write(`Deleted Images:\n${lines.map((l) => l + '\n').join('')}\n`);
    process.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
  });
}
