/** `layerfs build [flags] CONTEXT`: prints the build's events in Docker's classic builder layout. */
import { openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decompress } from '../store/decompress.js';
import { unpack } from '../store/unpack.js';
import { Command, Option } from 'commander';
import { parseLabels } from './label-flags.js';
import { requireHostPlatform } from '../oci/manifest.js';
import { BuildError, UsageError } from '../errors.js';
import { build, type BuildEvent } from '../build/build.js';
import { LayerProgress } from './transfer-progress.js';

const collect = (value: string, prev: string[]) => [...prev, value];

interface BuildFlags {
  tag: string[]; file?: string; buildArg: string[]; label: string[]; cache: boolean; target?: string; quiet?: boolean; iidfile?: string;
  network: 'host' | 'none'; root?: string; rootfs: 'layerfs' | 'kernel'; insecure?: boolean; pull?: boolean; platform?: string;
}

function line(e: BuildEvent): string {
  switch (e.kind) {
    case 'step': return `Step ${e.n}/${e.total} : ${e.text}`;
    case 'cache': return ' ---> Using cache';
    case 'triggers': return `# Executing ${e.count} build trigger${e.count === 1 ? '' : 's'}`;
    case 'running': return ` ---> Running in ${e.container}`;
    case 'removed': return `Removing intermediate container ${e.container}`;
    case 'image': return ` ---> ${e.id}`;
    case 'pull': return `Pulling ${e.ref}`;
    case 'warning': return e.message;
    case 'built': return `Successfully built ${e.id}`;
    case 'tagged': return `Successfully tagged ${e.ref}`;
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * `build -` as docker's: stdin is a context tar (plain or compressed) or a
 * Dockerfile alone (then the context is empty); `-f -` reads only the
 * Dockerfile from stdin. Gives the context dir, the Dockerfile's text when
 * it came on stdin, and what to remove afterwards.
 */
async function stdinSources(contextDir: string, file: string | undefined): Promise<{ context: string; text?: string; temp?: string }> {
  if (contextDir !== '-') return file === '-' ? { context: contextDir, text: (await readStdin()).toString('utf8') } : { context: contextDir };
  if (file === '-') throw new UsageError('invalid argument: cannot use stdin for both the build context and the Dockerfile');
  const input = await readStdin();
  const temp = await mkdtemp(join(tmpdir(), 'layerfs-context-'));
  try {
    const head: Buffer[] = [];
    for await (const c of decompress((async function* () {
      yield input;
    })())) head.push(c);
    const plain = Buffer.concat(head);
    if (plain.subarray(257, 262).toString('latin1') !== 'ustar') return { context: temp, text: input.toString('utf8'), temp };
    await unpack([plain], temp, { source: 'the context on stdin' });
    return { context: temp, temp };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}

function buildArgs(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq === 0) throw new UsageError(`invalid --build-arg '${a}': it needs a NAME`);
    // `--build-arg NAME` takes the value from our environment, as docker does.
    if (eq < 0) {
      if (process.env[a] !== undefined) out[a] = process.env[a]!;
    } else out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('build')
    .description('build an image from a Dockerfile: one layer per RUN, COPY and ADD, cached between builds')
    .argument('<context>', 'the build context directory (COPY and ADD read from it; .dockerignore applies); - reads a context tar or a lone Dockerfile from stdin')
    .option('-t, --tag <name[:tag]>', 'tag the image; may repeat', collect, [])
    .option('-f, --file <path>', 'the Dockerfile (default: CONTEXT/Dockerfile); - reads it from stdin')
    .option('--build-arg <K=V>', 'set a build-time variable declared with ARG; may repeat', collect, [])
    .option('--label <K=V>', 'set a label on the image (a LABEL step at the end); may repeat', collect, [])
    .option('--no-cache', 'build every step again')
    .option('--target <stage>', 'build up to this stage (FROM ... AS stage)')
    .option('-q, --quiet', 'print only the image ID')
    .option('--iidfile <file>', 'write the image ID to the file')
    .addOption(new Option('--network <mode>', "RUN steps' network: host shares ours, none has only lo").choices(['host', 'none']).default('host'))
    .option('--pull', 'pull each FROM image, even one the store has')
    .option('--platform <os/arch>', 'the platform to build for: only linux/amd64, the host\'s (others are refused)')
    .option('--insecure', 'allow plain http when pulling a missing FROM image (also: insecureRegistries in the config)')
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .addOption(new Option('--rootfs <mounter>', 'how step rootfs are mounted').choices(['layerfs', 'kernel']).default('layerfs').hideHelp())
    .addHelpText('after', `
Instructions: FROM [--platform] IMAGE [AS NAME], RUN, COPY [--from] [--chown] [--chmod], ADD [--chown] [--chmod]
[--checksum] (local tars are unpacked; http(s) URLs are downloaded, never unpacked), ENV, ARG, WORKDIR, CMD, ENTRYPOINT, USER, LABEL, EXPOSE,
VOLUME, STOPSIGNAL, SHELL, HEALTHCHECK (recorded, not run), ONBUILD, MAINTAINER. A missing FROM
image is pulled. Each step's image is kept untagged as the cache (\`images -a\` lists them).

Example:
  layerfs build -t hello .      # FROM scratch / COPY hello / / CMD ["/hello"]
  layerfs run hello`)
    .action(async (contextDir: string, flags: BuildFlags) => {
      const print = (e: BuildEvent) => {
        if (e.kind === 'warning') process.stderr.write(`${e.message}\n`);
        else if (!flags.quiet) process.stdout.write(`${line(e)}\n`);
      };
      if (flags.platform !== undefined) requireHostPlatform(flags.platform);
      const quietFd = flags.quiet ? openSync('/dev/null', 'w') : undefined;
      const stdin = await stdinSources(contextDir, flags.file);
      try {
        const res = await build({
          root: flags.root, context: stdin.context, tags: flags.tag, buildArgs: buildArgs(flags.buildArg), labels: parseLabels(flags.label),
          ...(stdin.text !== undefined ? { dockerfileText: stdin.text } : flags.file !== undefined ? { dockerfile: stdin.temp ? join(stdin.temp, flags.file) : flags.file } : {}),
          noCache: !flags.cache, pull: flags.pull, registry: { insecure: flags.insecure }, target: flags.target, network: flags.network, mounter: flags.rootfs,
          // RUN's stderr joins the build output on stdout, as docker build streams both.
          ...(quietFd !== undefined ? { stdout: quietFd, stderr: quietFd } : { stdout: 1, stderr: 1, onPullProgress: new LayerProgress(process.stdout).listener() }),
          onEvent: print, forwardSignals: true,
        });
        if (flags.iidfile !== undefined) await writeFile(flags.iidfile, res.id);
        if (flags.quiet) process.stdout.write(`${res.id}\n`);
      } catch (err) {
        if (!(err instanceof BuildError)) throw err;
        process.stderr.write(`layerfs: ${err.message}\n`);
        process.exitCode = err.exitCode;
      } finally {
        if (stdin.temp) await rm(stdin.temp, { recursive: true, force: true });
      }
    });
}
