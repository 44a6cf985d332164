/**
 * Every JSON record the store and the runtime keep (tags.json, images/<id>.json,
 * layers/<hex>/layer.json, holds/<holder>.json, containers/<id>/state.json) is
 * read through `readRecord`, which checks its shape. A record that is torn,
 * truncated or edited into something else is a DamagedRecordError naming the
 * file and the reason, never a SyntaxError from deep inside a command: the
 * caller decides whether that one record stops it or is listed as damaged.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { DamagedRecordError } from '../errors.js';
import { isDigest } from '../oci/digest.js';

/** Checks a parsed value; returns why it is not a valid record, or null. */
export type Validator = (v: unknown) => string | null;

/**
 * The record at `file`, validated; null when the file does not exist (the
 * caller knows whether that is normal). Throws DamagedRecordError otherwise.
 */
export async function readRecord<T>(file: string, validate: Validator): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    if (code === 'EISDIR') throw new DamagedRecordError(file, 'a directory, not a file');
    throw err;
  }
  return parseRecord<T>(file, text, validate);
}

export function parseRecord<T>(file: string, text: string, validate: Validator): T {
  if (text.trim() === '') throw new DamagedRecordError(file, 'empty file');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // JSON.parse quotes the bytes it stopped at: no newline or terminal escape of theirs reaches a message.
    throw new DamagedRecordError(file, `not JSON (${(err as Error).message.replace(/[\x00-\x1f\x7f]+/g, ' ')})`);
  }
  const why = validate(value);
  if (why !== null) throw new DamagedRecordError(file, why);
  return value as T;
}

/** Writes a record whole (a temp file renamed into place), so a crash never leaves half of one. */
export async function writeRecord(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await rename(tmp, file);
}

// --- small validators, composed per record ---

type Field = 'string' | 'number' | 'digest' | 'string[]' | 'string?' | 'number?';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fieldOk(v: unknown, kind: Field): boolean {
  switch (kind) {
    case 'string':
      return typeof v === 'string';
    case 'string?':
      return v === undefined || typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'number?':
      return v === undefined || (typeof v === 'number' && Number.isFinite(v));
    case 'digest':
      return isDigest(v);
    case 'string[]':
      return Array.isArray(v) && v.every((s) => typeof s === 'string');
  }
}

/** An object with at least these fields, of these kinds. */
export function shape(fields: Record<string, Field>, more: (o: Record<string, unknown>) => string | null = () => null): Validator {
  return (v) => {
    if (!isObject(v)) return `not a JSON object`;
    for (const [k, kind] of Object.entries(fields)) {
      if (!fieldOk(v[k], kind)) return `field '${k}' is ${v[k] === undefined ? 'missing' : `not a ${kind.replace('?', '')}`}`;
    }
    return more(v);
  };
}

export const layerRefShape = shape({ digest: 'digest', diffId: 'digest', mediaType: 'string', size: 'number', unpackedSize: 'number' });

/** images/<id>.json; its `id` must be the one its name says. */
export const imageRecordShape = (idFromName: string): Validator =>
  shape({ id: 'digest', manifestDigest: 'digest', created: 'string?', loadedAt: 'string', parent: 'string?' }, (o) => {
    if (o.id !== idFromName) return `its id ${String(o.id)} is not the one its name says`;
    if (o.repoDigests !== undefined && !fieldOk(o.repoDigests, 'string[]')) return `field 'repoDigests' is not a list of strings`;
    if (!Array.isArray(o.layers)) return `field 'layers' is not a list`;
    for (const [i, l] of o.layers.entries()) {
      const why = layerRefShape(l);
      if (why !== null) return `layers[${i}]: ${why}`;
    }
    return null;
  });

export const tagsShape: Validator = (v) => {
  if (!isObject(v)) return 'not a JSON object';
  for (const [k, d] of Object.entries(v)) if (!isDigest(d)) return `tag '${k}' does not point at a sha256 digest`;
  return null;
};

export const holdShape = shape({ holder: 'string', imageId: 'digest', description: 'string?' });
