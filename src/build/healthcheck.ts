/**
 * HEALTHCHECK as Docker's builder reads it: `HEALTHCHECK NONE`, or
 * `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D]
 * [--start-interval=D] [--retries=N] CMD command` (exec or shell form).
 * Durations are Go durations (`30s`, `1m30s`, `500ms`) kept as nanoseconds
 * in the image config, as Docker keeps them; zero ones are left out.
 */
import { DockerfileError } from '../errors.js';
import type { ImageConfig } from '../oci/config.js';

export type Healthcheck = NonNullable<NonNullable<ImageConfig['config']>['Healthcheck']>;

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDuration(text: string): number {
  const m = /^([+-]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|0)$/.exec(text);
  if (!m) throw new DockerfileError(`time: invalid duration "${text}"`);
  let ns = 0;
  for (const [, num, unit] of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ns += Number(num) * UNIT_NS[unit!]!;
  return Math.round(m[1] === '-' ? -ns : ns);
}

/** Go's Duration.String: `1h2m3.5s`, `500ms`, `0s`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let n = Math.abs(ns);
  const frac = (v: number, div: number) => String(v / div).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  if (n < 1e3) return `${sign}${n}ns`;
  if (n < 1e6) return `${sign}${frac(n, 1e3)}µs`;
  if (n < 1e9) return `${sign}${frac(n, 1e6)}ms`;
  const h = Math.floor(n / 3600e9);
  n -= h * 3600e9;
  const min = Math.floor(n / 60e9);
  n -= min * 60e9;
  return `${sign}${h ? `${h}h` : ''}${h || min ? `${min}m` : ''}${frac(n, 1e9)}s`;
}

const DURATION_FLAGS = [['interval', 'Interval'], ['timeout', 'Timeout'], ['start-period', 'StartPeriod'], ['start-interval', 'StartInterval']] as const;

/** The config's Healthcheck from the instruction's flags, its type word (CMD or NONE) and what follows it. */
export function parseHealthcheck(flags: Record<string, string>, type: string, command: string[] | undefined, shellLine: string): Healthcheck {
  const kind = type.toUpperCase();
  if (kind === 'NONE') {
    if (shellLine.trim() !== '') throw new DockerfileError('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD') throw new DockerfileError(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  if (command ? command.length === 0 : shellLine.trim() === '') throw new DockerfileError('Missing command after HEALTHCHECK CMD');
  const hc: Healthcheck = { Test: command ? ['CMD', ...command] : ['CMD-SHELL', shellLine.trim()] };
  for (const [flag, field] of DURATION_FLAGS) {
    const v = flags[flag];
    if (v === undefined) continue;
    const ns = parseGoDuration(v);
    if (ns !== 0 && ns < 1e6) throw new DockerfileError(`Interval "${flag}" cannot be less than 1ms`);
    if (ns !== 0) hc[field] = ns;
  }
  if (flags.retries !== undefined) {
    if (!/^[+-]?\d+$/.test(flags.retries)) throw new DockerfileError(`strconv.ParseInt: parsing "${flags.retries}": invalid syntax`);
    const retries = Number(flags.retries);
    if (retries < 0) throw new DockerfileError(`--retries cannot be negative (${retries})`);
    if (retries !== 0) hc.Retries = retries;
  }
  return hc;
}

/** How Docker's builder writes it into the history (Go's `%+v` of the struct). */
export function healthcheckText(hc: Healthcheck): string {
  if (hc.Test[0] === 'NONE') return '&{Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}';
  return `&{Test:[${hc.Test.join(' ')}] Interval:${goDuration(hc.Interval ?? 0)} Timeout:${goDuration(hc.Timeout ?? 0)} ` +
    `StartPeriod:${goDuration(hc.StartPeriod ?? 0)} StartInterval:${goDuration(hc.StartInterval ?? 0)} Retries:${hc.Retries ?? 0}}`;
}
