/** `layerfs ps [-a]`: containers with their status and exit code. */
import { Command } from 'commander';
import { Store } from '../store/store.js';
import { isLive, scanContainers, type ContainerState } from '../runtime/containers.js';
import { shortId } from '../oci/digest.js';

export function statusText(c: ContainerState): string {
  if (c.status === 'running') return isLive(c) ? 'Up' : 'Dead (its runtime was killed)';
  if (c.status === 'exited') return `Exited (${c.exitCode})`;
  if (c.status === 'failed') return `Failed (${c.exitCode}): ${c.error ?? 'unknown error'}`;
  return 'Created';
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('ps')
    .description('list containers (running ones unless -a)')
    .option('-a, --all', 'show all containers')
    .option('-q, --quiet', 'only ids')
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (flags: { all?: boolean; quiet?: boolean; root?: string }) => {
      const store = await Store.open(flags.root);
      const scan = await scanContainers(store.root);
      const all = scan.containers.filter((c) => flags.all || isLive(c));
      // A container whose record is damaged cannot be running as far as we can tell: -a lists it, as damaged.
      const damaged = flags.all ? scan.damaged : [];
      if (flags.quiet) {
        process.stdout.write([...all, ...damaged].map((c) => shortId(c.id) + '\n').join(''));
        return;
      }
      const rows = all.map((c) => {
        const cmd = c.args.join(' ');
        return [shortId(c.id), c.image, JSON.stringify(cmd.length > 30 ? cmd.slice(0, 29) + '…' : cmd), c.created.replace('T', ' ').slice(0, 19), statusText(c), c.name];
      });
      for (const d of damaged) rows.push([shortId(d.id), '', '', '', `Damaged: ${d.error.data.reason as string}`, '']);
      process.stdout.write(table([['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'], ...rows]));
    });
}
