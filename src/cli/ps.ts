/** `layerfs ps [-a]`: containers with their status and exit code; `--format` as docker's. */
import { Command } from 'commander';
import { Store } from '../store/store.js';
import { isLive, scanContainers, type ContainerState } from '../runtime/containers.js';
import { shortId } from '../oci/digest.js';
import { ellipsis, goTime, timeAgo } from './format.js';
import { formatRows, type Listing, type Row } from './output-format.js';

export function statusText(c: ContainerState): string {
  if (c.status === 'running') return isLive(c) ? 'Up' : 'Dead (its runtime was killed)';
  if (c.status === 'exited') return `Exited (${c.exitCode})`;
  if (c.status === 'failed') return `Failed (${c.exitCode}): ${c.error ?? 'unknown error'}`;
  return 'Created';
}

export const CONTAINERS: Listing = {
  table: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
  headers: {
    Command: 'COMMAND', CreatedAt: 'CREATED AT', ID: 'CONTAINER ID', Image: 'IMAGE', Labels: 'LABELS', LocalVolumes: 'LOCAL VOLUMES',
    Mounts: 'MOUNTS', Names: 'NAMES', Networks: 'NETWORKS', Ports: 'PORTS', RunningFor: 'CREATED', Size: 'SIZE', State: 'STATE', Status: 'STATUS',
  },
};

/** A container as docker's `ps` formatter sees it (cli/command/formatter/container.go). */
export function containerRow(c: ContainerState, trunc: boolean): Row {
  const cmd = c.args.join(' ');
  return {
    Command: JSON.stringify(trunc ? ellipsis(cmd, 20) : cmd),
    CreatedAt: goTime(c.created),
    ID: trunc ? shortId(c.id) : c.id,
    Image: c.image,
    Labels: '',
    LocalVolumes: '0',
    Mounts: '',
    Names: c.name,
    Networks: '',
    Ports: '',
    RunningFor: timeAgo(c.created),
    Size: '0B',
    State: c.status === 'running' && !isLive(c) ? 'dead' : c.status === 'failed' ? 'exited' : c.status,
    Status: statusText(c),
  };
}

/** A container whose record cannot be read: only its ID and why. */
function damagedRow(id: string, reason: string, trunc: boolean): Row {
  const row = containerRow({ id, name: '', image: '', imageId: '', layers: [], args: [], created: '', status: 'created', mounter: 'layerfs' }, trunc);
  return { ...row, Command: '', CreatedAt: '', RunningFor: '', State: 'damaged', Status: `Damaged: ${reason}` };
}

export function register(program: Command): void {
  program
    .command('ps')
    .description('list containers (running ones unless -a)')
    .option('-a, --all', 'show all containers')
    .option('-q, --quiet', 'only ids')
    .option('--no-trunc', 'full ids and commands')
    .option('--format <format>', "table (default), json (one object a line), 'table TEMPLATE' or a Go TEMPLATE such as '{{.ID}} {{.Status}}'")
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (flags: { all?: boolean; quiet?: boolean; trunc: boolean; format?: string; root?: string }) => {
      const store = await Store.open(flags.root);
      const scan = await scanContainers(store.root);
      const all = scan.containers.filter((c) => flags.all || isLive(c));
      // A container whose record is damaged cannot be running as far as we can tell: -a lists it, as damaged.
      const damaged = flags.all ? scan.damaged : [];
      const rows = all.map((c) => containerRow(c, flags.trunc));
      for (const d of damaged) rows.push(damagedRow(d.id, d.error.data.reason as string, flags.trunc));
      process.stdout.write(formatRows(flags.format, rows, CONTAINERS, { quiet: flags.quiet }));
    });
}
