/**
 * Image references as docker spells them: `[REGISTRY/]NAME[:TAG][@DIGEST]`.
 * The first component is a registry when it has a `.` or `:` or is
 * `localhost`; otherwise the image is on Docker Hub, and a one-component
 * name lives under `library/`. Podman instead puts unqualified names under
 * `localhost/` (`{ unqualified: 'localhost' }`).
 *
 * The store keys its tags by the familiar form, `name:tag` with docker.io's
 * prefixes dropped (`normalizeRef`).
 */
import { UsageError } from '../errors.js';
import { isDigest } from './digest.js';

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;

export interface ParseOptions {
  /** Where a name without a registry lives: Docker Hub (docker's rule, the default) or `localhost` (podman's). */
  unqualified?: 'docker.io' | 'localhost';
}

export class Reference {
  constructor(
    /** Registry host[:port] as written, `docker.io` for Docker Hub. */
    readonly registry: string,
    readonly repository: string,
    readonly tag: string | undefined,
    readonly digest: string | undefined,
  ) {}

  static parse(input: string, opts: ParseOptions = {}): Reference {
    const bad = (why: string) => new UsageError(`invalid reference '${input}': ${why}`);
    let rest = input;
    let digest: string | undefined;
    const at = rest.indexOf('@');
    if (at >= 0) {
      digest = rest.slice(at + 1);
      rest = rest.slice(0, at);
      if (!isDigest(digest)) throw bad(`'${digest}' is not a sha256 digest`);
    }
    let tag: string | undefined;
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!TAG.test(tag)) throw bad(`'${tag}' is not a valid tag`);
    }
    let registry: string = opts.unqualified ?? DOCKER_HUB;
    const slash = rest.indexOf('/');
    const first = slash < 0 ? '' : rest.slice(0, slash);
    if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
      if (!HOST.test(first)) throw bad(`'${first}' is not a valid registry host`);
      registry = first === 'index.docker.io' ? DOCKER_HUB : first;
      rest = rest.slice(slash + 1);
    }
    if (registry === DOCKER_HUB && !rest.includes('/')) rest = `library/${rest}`;
    if (rest === '' || !rest.split('/').every((c) => COMPONENT.test(c))) {
      throw bad('repository names are lowercase letters, digits and separators (. _ __ -)');
    }
    return new Reference(registry, rest, tag ?? (digest === undefined ? 'latest' : undefined), digest);
  }

  /** The host the API is served from (Docker Hub's differs from its name). */
  get apiHost(): string {
    return this.registry === DOCKER_HUB ? DOCKER_HUB_API : this.registry;
  }

  /** What to ask the manifests endpoint for: the digest wins over the tag. */
  get identifier(): string {
    return this.digest ?? this.tag!;
  }

  /** The familiar form docker prints: no `docker.io/`, no `library/`. */
  get name(): string {
    if (this.registry !== DOCKER_HUB) return `${this.registry}/${this.repository}`;
    return this.repository.replace(/^library\//, '');
  }

  withDigest(digest: string): Reference {
    return new Reference(this.registry, this.repository, this.tag, digest);
  }

  toString(): string {
    return `${this.name}${this.tag === undefined ? '' : `:${this.tag}`}${this.digest === undefined ? '' : `@${this.digest}`}`;
  }
}

/** A tag as the store keeps it: the familiar name and a tag. */
export interface Ref {
  name: string;
  tag: string;
}

/** `name[:tag]` in its familiar form (the tag defaults to latest); throws UsageError for anything else, digests included. */
export function parseRef(input: string): Ref {
  const r = Reference.parse(input);
  if (r.digest !== undefined) throw new UsageError(`invalid reference '${input}': a tag is expected here, not a digest`);
  return { name: r.name, tag: r.tag! };
}

export const formatRef = (r: Ref): string => `${r.name}:${r.tag}`;
/** `busybox` → `busybox:latest`, `docker.io/library/busybox:1` → `busybox:1`. */
export const normalizeRef = (ref: string): string => formatRef(parseRef(ref));

/** True when `s` parses as `name[:tag]`; used where a string may be a reference or an ID. */
export function isRef(s: string): boolean {
  try {
    parseRef(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * The stored tags a user's `name[:tag]` may mean, in the order Docker and
 * podman try them, for a store keyed by `normalizeRef`:
 *
 * 1. the name as Docker reads it (`busybox` → docker.io/library/busybox,
 *    `library/busybox` the same, `quay.io/x/app` as written);
 * 2. for a short name (no registry host), podman's `localhost/NAME:TAG`,
 *    the name podman gives what it builds, commits and loads;
 * 3. for a short name, any stored tag whose path ends in `/NAME` with the
 *    same tag (`app:v1` → `quay.io/team/app:v1`), as podman's lookup of local
 *    images does. Several of those make the name ambiguous.
 */
export interface TagMatch {
  kind: 'found' | 'ambiguous' | 'absent';
  /** The stored tags that match (one when found). */
  tags: string[];
}

export function matchTag(input: string, stored: Iterable<string>): TagMatch {
  const all = new Set(stored);
  const exact = normalizeRef(input);
  if (all.has(exact)) return { kind: 'found', tags: [exact] };
  const r = Reference.parse(input);
  const slash = input.indexOf('/');
  const first = slash < 0 ? '' : input.slice(0, slash);
  const short = !(first.includes('.') || first.includes(':') || first === 'localhost');
  if (!short) return { kind: 'absent', tags: [] };
  // The path as the user wrote it: Docker Hub's implied `library/` is not part of it.
  const path = r.repository.startsWith('library/') && !input.startsWith('library/') ? r.repository.slice('library/'.length) : r.repository;
  const local = `localhost/${path}:${r.tag}`;
  if (all.has(local)) return { kind: 'found', tags: [local] };
  const bare = path.replace(/^library\//, '');
  const hits = [...all].filter((t) => {
    const colon = t.lastIndexOf(':');
    const name = t.slice(0, colon);
    return t.slice(colon + 1) === r.tag && (name.endsWith(`/${path}`) || name.endsWith(`/${bare}`)) && name !== bare;
  });
  if (hits.length === 1) return { kind: 'found', tags: hits };
  return { kind: hits.length ? 'ambiguous' : 'absent', tags: hits.sort() };
}
