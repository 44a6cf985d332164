/**
 * Holds: what keeps an image in use by something outside the store (the
 * runtime holds the image of each container). One file per holder,
 * `holds/<holder>.json`, so taking and releasing one never rewrites another's.
 * The store refuses `rmi` of a held image (unless forced), and keeps a held
 * image's config and layers through every collection until the hold goes.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DamagedRecordError, UsageError } from '../errors.js';
import { holdShape, readRecord, writeRecord } from './record.js';

export interface Hold {
  /** Who holds it: a name of the holder's choosing (the runtime uses the container ID). */
  holder: string;
  /** The image ID (its config digest). */
  imageId: string;
  /** What error messages call the holder ("container web"). */
  description: string;
}

const HOLDER = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const holdsDir = (root: string) => join(root, 'holds');

function holdFile(root: string, holder: string): string {
  if (!HOLDER.test(holder)) throw new UsageError(`invalid holder name '${holder}': use letters, digits, '_', '.' and '-'`);
  return join(holdsDir(root), `${holder}.json`);
}

/** Call with the store lock held. */
export async function writeHold(root: string, hold: Hold): Promise<void> {
  const file = holdFile(root, hold.holder);
  await mkdir(holdsDir(root), { recursive: true, mode: 0o700 });
  await writeRecord(file, hold);
}

export async function removeHold(root: string, holder: string): Promise<void> {
  await rm(holdFile(root, holder), { force: true });
}

/** Every readable hold, and the hold files that are damaged (a damaged hold may keep an image nobody can name). */
export async function scanHolds(root: string): Promise<{ holds: Hold[]; damaged: DamagedRecordError[] }> {
  const names = (await readdir(holdsDir(root)).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
  const out: { holds: Hold[]; damaged: DamagedRecordError[] } = { holds: [], damaged: [] };
  for (const n of names) {
    try {
      const h = await readRecord<Hold>(join(holdsDir(root), n), holdShape);
      if (h !== null) out.holds.push({ holder: h.holder, imageId: h.imageId, description: h.description ?? h.holder });
    } catch (err) {
      if (!(err instanceof DamagedRecordError)) throw err;
      out.damaged.push(err);
    }
  }
  return out;
}

export async function readHolds(root: string): Promise<Hold[]> {
  return (await scanHolds(root)).holds;
}
