/** Image references as the store keeps them: `name:tag`, with docker.io's default prefixes dropped. */
import { UsageError } from '../errors.js';

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export interface Ref {
  name: string;
  tag: string;
}

/** Splits `name[:tag]` (the tag defaults to latest); throws UsageError for an invalid reference. */
export function parseRef(ref: string): Ref {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  let name = colon > slash ? ref.slice(0, colon) : ref;
  const tag = colon > slash ? ref.slice(colon + 1) : 'latest';
  for (const prefix of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/']) {
    if (name.startsWith(prefix)) {
      name = name.slice(prefix.length);
      break;
    }
  }
  if (!NAME.test(name) || !TAG.test(tag)) throw new UsageError(`invalid reference format: ${ref}`);
  return { name, tag };
}

export const formatRef = (r: Ref): string => `${r.name}:${r.tag}`;
export const normalizeRef = (ref: string): string => formatRef(parseRef(ref));

/** True when `s` parses as a reference; used where a string may be a reference or an ID. */
export function isRef(s: string): boolean {
  try {
    parseRef(s);
    return true;
  } catch {
    return false;
  }
}
