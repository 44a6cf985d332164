/**
 * `layerfs ps [-a] [-q] [-n N] [--no-trunc] [--filter K=V] [--format F]`:
 * containers as docker lists them, each row built by `containerRow` (the
 * records reconciled first: a container whose runtime is gone shows exited).
 */
import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { Store } from '../store/store.js';
import { pathsOf, scanContainers, type ContainerState } from '../runtime/containers.js';
import { parseVolume } from '../runtime/rootfs-paths.js';
import { reconcile } from '../runtime/reconcile.js';
import { portsText } from '../runtime/network/state.js';
import { shortId } from '../oci/digest.js';
import { ellipsis, goTime, humanSize, timeAgo } from './format.js';
import { formatRows, type Listing, type Row } from './output-format.js';

/** Docker's State word. */
export const stateOf = (c: ContainerState): string => (c.status === 'failed' ? 'exited' : c.status);

/** Docker's STATUS: "Up 3 seconds", "Exited (0) 2 seconds ago", "Restarting (1) 1 second ago", "Created". */
export function statusText(c: ContainerState, now = Date.now()): string {
  if (c.status === 'running') return `Up ${timeAgo(c.startedAt ?? c.created, now).replace(/ ago$/, '')}`;
  if (c.status === 'restarting') return `Restarting (${c.exitCode ?? 0}) ${timeAgo(c.finished ?? c.created, now)}`;
  if (c.status === 'exited' || c.status === 'failed') return `Exited (${c.exitCode ?? 0}) ${timeAgo(c.finished ?? c.created, now)}`;
  return 'Created';
}

const STATES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** docker matches a name filter as a regular expression (against the name without its leading /). */
function nameRegex(v: string): RegExp {
  try {
    return new RegExp(v);
  } catch {
    throw new UsageError(`invalid filter 'name=${v}': not a regular expression`);
  }
}

/**
 * `--filter status=…|name=…|ancestor=…|id=…|exited=N|label=K[=V]`: values of
 * one key are alternatives, keys must all match; label filters must all match
 * too, as docker's (labels narrow the list).
 */
export function containerFilter(filters: string[]): (c: ContainerState) => boolean {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq);
    const value = f.slice(eq + 1);
    if (eq <= 0 || !['status', 'name', 'ancestor', 'id', 'exited', 'label'].includes(key)) throw new UsageError(`invalid filter '${f}': use status=, name=, ancestor=, id=, exited= or label=`);
    if (key === 'name') nameRegex(value);
    if (key === 'status' && !STATES.includes(value)) throw new UsageError(`invalid filter 'status=${value}': one of ${STATES.join(', ')}`);
    if (key === 'exited' && !/^-?\d+$/.test(value)) throw new UsageError(`invalid filter 'exited=${value}': an exit code`);
    by.set(key, [...(by.get(key) ?? []), value]);
  }
  const tests: Record<string, (c: ContainerState, v: string) => boolean> = {
    status: (c, v) => stateOf(c) === v,
    name: (c, v) => nameRegex(v).test(c.name),
    // label=KEY or label=KEY=VALUE, as docker's
    label: (c, v) => {
      const labels = c.config?.labels ?? {};
      const eq = v.indexOf('=');
      return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
    },
    id: (c, v) => c.id.startsWith(v),
    // docker: a container that ran and stopped with this code (it does not imply -a)
    exited: (c, v) => (c.status === 'exited' || c.status === 'failed') && c.startedAt !== undefined && (c.exitCode ?? 0) === Number(v),
    ancestor: (c, v) => {
      const withTag = (r: string) => (/[:@][^/]*$/.test(r) ? r : `${r}:latest`);
      const hex = v.replace(/^sha256:/, '');
      return c.image === v || withTag(c.image) === withTag(v) || (/^[0-9a-f]{4,64}$/.test(hex) && c.imageId.replace(/^sha256:/, '').startsWith(hex));
    },
  };
  return (c) => [...by].every(([key, values]) => (key === 'label' ? values.every((v) => tests[key]!(c, v)) : values.some((v) => tests[key]!(c, v))));
}

export const CONTAINERS: Listing = {
  table: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
  headers: {
    Command: 'COMMAND', CreatedAt: 'CREATED AT', ID: 'CONTAINER ID', Image: 'IMAGE', Labels: 'LABELS', LocalVolumes: 'LOCAL VOLUMES',
    Mounts: 'MOUNTS', Names: 'NAMES', Networks: 'NETWORKS', Ports: 'PORTS', RunningFor: 'CREATED', Size: 'SIZE', State: 'STATE', Status: 'STATUS',
  },
};

/** A container as docker's `ps` formatter sees it (cli/command/formatter/container.go). */
export function containerRow(c: ContainerState, trunc: boolean, now = Date.now()): Row {
  const cmd = c.args.join(' ');
  // Records from before the run configuration was stored had no volumes and no network.
  const config = { network: c.config?.network ?? 'none', volumes: c.config?.volumes ?? [] };
  return {
    Command: JSON.stringify(trunc ? ellipsis(cmd, 20) : cmd),
    CreatedAt: goTime(c.created),
    ID: trunc ? shortId(c.id) : c.id,
    Image: c.image,
    Labels: Object.entries(c.config?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    LocalVolumes: '0',
    // docker names a bind mount by its source, cut to 15 characters.
    Mounts: config.volumes.map((v) => parseVolume(v).source).map((m) => (trunc ? ellipsis(m, 15) : m)).join(','),
    Names: c.name,
    Networks: config.network,
    Ports: c.status === 'running' && c.network ? portsText(c.network.ports) : '',
    RunningFor: timeAgo(c.created, now),
    Size: '0B',
    State: stateOf(c),
    Status: statusText(c, now),
  };
}

/**
 * Docker's SIZE: the container's own writes, and with the image's layers
 * (`3B (virtual 1.98MB)`). Measured only when asked for (-s or a format
 * that uses .Size), as docker does: it walks the upper dir.
 */
async function sizeText(root: string, c: ContainerState, imageSizes: Map<string, number>): Promise<string> {
  // Loaded only here: plain `ps` keeps its start-up short.
  const { treeSize } = await import('../runtime/system.js');
  const rw = await treeSize(pathsOf(root, c.id).upper);
  const virtual = rw + (imageSizes.get(c.imageId) ?? 0);
  return virtual > 0 && imageSizes.has(c.imageId) ? `${humanSize(rw)} (virtual ${humanSize(virtual)})` : humanSize(rw);
}

/** A container whose record cannot be read: only its ID and why. */
function damagedRow(id: string, reason: string, trunc: boolean): Row {
  const row = containerRow({ id, name: '', image: '', imageId: '', layers: [], args: [], created: '', status: 'created', mounter: 'layerfs' }, trunc);
  return { ...row, Command: '', CreatedAt: '', RunningFor: '', State: 'damaged', Status: `Damaged: ${reason}` };
}

export function register(program: Command): void {
  program
    .command('ps')
    .description('list containers (running ones unless -a, -n or a status filter)')
    .option('-a, --all', 'show all containers')
    .option('-q, --quiet', 'only ids')
    .option('-l, --latest', 'only the most recently created container (any state)')
    .option('--no-trunc', 'full ids and commands')
    .option('-s, --size', 'the SIZE column: what the container wrote (and with its image, virtual)')
    .option('-n, --last <N>', 'the N most recently created containers (any state)', (v) => {
      if (!/^\d+$/.test(v)) throw new UsageError(`invalid -n '${v}'`);
      return Number(v);
    })
    .option('-f, --filter <K=V>', 'status=running|exited|created|restarting, name=REGEX, ancestor=IMAGE, id=PREFIX, exited=CODE, label=K[=V]; may repeat', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--format <format>', "table (default), json (one object a line), 'table TEMPLATE' or a Go TEMPLATE such as '{{.ID}} {{.Status}}'")
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (flags: { all?: boolean; quiet?: boolean; latest?: boolean; size?: boolean; trunc: boolean; last?: number; filter: string[]; format?: string; root?: string }) => {
      const store = await Store.open(flags.root);
      if (flags.latest) flags.last = 1;
      const match = containerFilter(flags.filter);
      const everything = flags.all || flags.last !== undefined || flags.filter.some((f) => f.startsWith('status='));
      const scan = await scanContainers(store.root);
      const reconciled = await Promise.all(scan.containers.map((c) => reconcile(store.root, c)));
      let all = reconciled.filter((c) => (everything || c.status === 'running' || c.status === 'restarting') && match(c));
      if (flags.last !== undefined) all = all.slice(0, flags.last);
      // A container whose record is damaged cannot be running as far as we can tell: -a lists it, as damaged.
      const damaged = flags.all && flags.filter.length === 0 ? scan.damaged : [];
      const rows = all.map((c) => containerRow(c, flags.trunc));
      const table = flags.format === undefined || flags.format === 'table';
      if (!flags.quiet && (flags.size || (!table && flags.format!.includes('.Size')))) {
        const imageSizes = new Map((await store.images()).map((i) => [i.id, i.layers.reduce((n, l) => n + l.unpackedSize, 0)]));
        await Promise.all(all.map(async (c, i) => (rows[i]!.Size = await sizeText(store.root, c, imageSizes))));
      }
      for (const d of damaged) rows.push(damagedRow(d.id, d.error.data.reason as string, flags.trunc));
      const format = flags.size && table ? `${CONTAINERS.table}\t{{.Size}}` : flags.format;
      process.stdout.write(formatRows(format, rows, CONTAINERS, { quiet: flags.quiet }));
    });
}
