/**
 * The instructions that only change an image's config (CMD, ENTRYPOINT, ENV,
 * EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, SHELL), applied the way
 * Docker applies them. `build` uses them for its metadata steps, and
 * `import`/`commit --change` for their changes, through the same parser.
 */
import { posix } from 'node:path';
import { DockerfileError } from '../errors.js';
import type { ImageConfig } from '../oci/config.js';
import { healthcheckParts, parseInstruction, type Instruction, type Keyword } from './dockerfile.js';
import { healthcheckText, parseHealthcheck } from './healthcheck.js';
import { envLookup, expand, splitRaw, type Lookup } from './words.js';

export type ContainerConfig = NonNullable<ImageConfig['config']> & { Shell?: string[] };

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** What `--change` accepts (docker commit's list, plus STOPSIGNAL). */
export const CHANGE_KEYWORDS: Keyword[] = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];
export const METADATA_KEYWORDS = new Set<Keyword>([...CHANGE_KEYWORDS, 'SHELL', 'MAINTAINER', 'HEALTHCHECK']);

export interface Applied {
  config: ContainerConfig;
  /** The instruction after substitution, in Docker's history form (a cache hit also needs the same config). */
  text: string;
}

/** `KEY=VALUE` pairs of ENV or LABEL (or the old `ENV KEY value` form), substituted. */
export function keyValues(instr: Instruction, lookup: Lookup, escape = '\\'): Array<[string, string]> {
  const words = splitRaw(instr.args, escape);
  if (!words[0]!.includes('=')) {
    const value = instr.args.slice(instr.args.indexOf(words[0]!) + words[0]!.length).trim();
    return [[expand(words[0]!, lookup, escape), expand(value, lookup, escape)]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    return [expand(w.slice(0, eq), lookup, escape), expand(w.slice(eq + 1), lookup, escape)];
  });
}

/**
 * A list as Go's `%q` prints it, which is how Docker's builder writes CMD and
 * ENTRYPOINT into the history: `["nginx" "-g" "daemon off;"]`.
 */
const goQuoted = (list: string[]) =>
  `[${list.map((s) => JSON.stringify(s).replace(/\\(\\|u00([0-9a-f]{2}))/g, (m, _, hex?: string) => (hex ? `\\x${hex}` : m))).join(' ')}]`;
/** A list as Go's `%v` prints it (VOLUME and SHELL in the history): `[/data /logs]`. */
const goList = (list: string[]) => `[${list.join(' ')}]`;

function ports(words: string[]): string[] {
  return words.flatMap((w) => {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    if (!m) throw new DockerfileError(`EXPOSE: invalid port '${w}' (PORT[-PORT][/tcp|udp|sctp])`);
    const [lo, hi] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (lo < 1 || hi > 65535 || hi < lo) throw new DockerfileError(`EXPOSE: invalid port range '${w}'`);
    return Array.from({ length: hi - lo + 1 }, (_, i) => `${lo + i}/${(m[3] ?? 'tcp').toLowerCase()}`);
  });
}

/** Applies one metadata instruction to `config` (not changed in place). */
export function applyMetadata(config: ContainerConfig, instr: Instruction, lookup: Lookup, escape = '\\'): Applied {
  const c: ContainerConfig = structuredClone(config);
  const words = () => splitRaw(instr.args, escape).map((w) => expand(w, lookup, escape));
  const command = () => instr.json ?? [...(c.Shell ?? DEFAULT_SHELL), instr.args];
  switch (instr.keyword) {
    case 'CMD':
      c.Cmd = command();
      return { config: c, text: `CMD ${goQuoted(c.Cmd)}` };
    case 'ENTRYPOINT':
      c.Entrypoint = command();
      return { config: c, text: `ENTRYPOINT ${goQuoted(c.Entrypoint)}` };
    case 'ONBUILD':
      // Kept as written; substituted when it runs, in the build that starts FROM this image.
      c.OnBuild = [...(c.OnBuild ?? []), instr.args];
      return { config: c, text: `ONBUILD ${instr.args}` };
    case 'HEALTHCHECK': {
      // Not substituted, as in Docker.
      const p = healthcheckParts(instr.args);
      c.Healthcheck = parseHealthcheck(instr.flags, p.type, p.json, p.line);
      return { config: c, text: `HEALTHCHECK ${healthcheckText(c.Healthcheck)}` };
    }
    case 'SHELL':
      c.Shell = instr.json!;
      return { config: c, text: `SHELL ${goList(c.Shell)}` };
    case 'ENV': {
      const pairs = keyValues(instr, lookup, escape);
      const env = [...(c.Env ?? [])];
      for (const [k, v] of pairs) {
        if (k === '') throw new DockerfileError('ENV names can not be blank');
        const at = env.findIndex((e) => e.startsWith(`${k}=`));
        if (at >= 0) env[at] = `${k}=${v}`;
        else env.push(`${k}=${v}`);
      }
      c.Env = env;
      return { config: c, text: `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}` };
    }
    case 'LABEL': {
      const pairs = keyValues(instr, lookup, escape);
      c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs) };
      return { config: c, text: `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}` };
    }
    case 'EXPOSE': {
      // `EXPOSE $PORTS` with PORTS="80 443" is two ports, as in Docker (its only word-to-words expansion).
      const written = words().flatMap((w) => w.split(/\s+/).filter(Boolean));
      const list = ports(written);
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}), ...Object.fromEntries(list.map((p) => [p, {}])) };
      return { config: c, text: `EXPOSE ${written.join(' ')}` };
    }
    case 'VOLUME': {
      const list = instr.json ?? words();
      if (list.some((v) => v.trim() === '')) throw new DockerfileError('VOLUME specified can not be an empty string');
      c.Volumes = { ...(c.Volumes ?? {}), ...Object.fromEntries(list.map((v) => [v, {}])) };
      return { config: c, text: `VOLUME ${goList(list)}` };
    }
    case 'WORKDIR': {
      const dir = expand(instr.args, lookup, escape);
      c.WorkingDir = posix.resolve(c.WorkingDir || '/', dir);
      return { config: c, text: `WORKDIR ${c.WorkingDir}` };
    }
    case 'USER':
      c.User = words()[0]!;
      return { config: c, text: `USER ${c.User}` };
    case 'STOPSIGNAL': {
      const sig = words()[0]!;
      if (!/^(SIG)?[A-Z0-9+-]+$|^\d+$/i.test(sig)) throw new DockerfileError(`STOPSIGNAL: invalid signal '${sig}'`);
      c.StopSignal = sig;
      return { config: c, text: `STOPSIGNAL ${sig}` };
    }
    default:
      throw new DockerfileError(`${instr.keyword} does not change the config`);
  }
}

/**
 * `--change 'INSTRUCTION'` for import and commit: each is parsed as a one-line
 * Dockerfile and applied in order. Errors name the change (`--change 2`).
 */
export function applyChanges(config: ContainerConfig, changes: string[]): ContainerConfig {
  let c = config;
  changes.forEach((text, i) => {
    const where = { file: '--change', line: i + 1 };
    const instr = parseInstruction(text, where.file, where.line);
    if (!CHANGE_KEYWORDS.includes(instr.keyword)) {
      throw new DockerfileError(`${instr.keyword} cannot be a --change (allowed: ${CHANGE_KEYWORDS.join(', ')})`, where);
    }
    try {
      c = applyMetadata(c, instr, envLookup(c.Env ?? [])).config;
    } catch (err) {
      throw err instanceof DockerfileError && !('file' in err.data && err.data.file) ? new DockerfileError(err.reason, where) : err;
    }
  });
  return c;
}
