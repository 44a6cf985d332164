/**
 * ADD's local archives: a tar, plain or compressed in one of the formats
 * Docker's builder recognises (gzip, bzip2, xz, and zstd as BuildKit adds).
 * The format is sniffed from the first bytes, not the name. gzip and zstd
 * are read in process (store/decompress); Node has no bzip2 or xz decoder,
 * so those go through the `bzip2` and `xz` programs.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { DockerfileError } from '../errors.js';
import { decompress } from '../store/decompress.js';

type External = 'bzip2' | 'xz';

async function externalFormat(file: string): Promise<External | null> {
  const fh = await open(file);
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(6), 0, 6, 0);
    const head = buffer.subarray(0, bytesRead);
    if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
    if (head.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    return null;
  } finally {
    await fh.close();
  }
}

async function* external(program: External, file: string): AsyncGenerator<Buffer> {
  const child = spawn(program, ['-d', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((res, rej) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      rej(err.code === 'ENOENT' ? new DockerfileError(`ADD of a ${program} archive needs the ${program} program (apt-get install ${program === 'xz' ? 'xz-utils' : 'bzip2'})`) : err),
    );
    child.on('close', (code, signal) => (code === 0 ? res() : rej(new Error(`${program}: ${signal ?? `exit ${code}`}: ${stderr.trim()}`))));
  });
  exited.catch(() => {}); // awaited below; a reader that stops early must not leave it unhandled
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    await exited;
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

/** The decompressed bytes of `file` (the file itself when it is not compressed). */
export async function* archiveBytes(file: string): AsyncGenerator<Buffer> {
  const program = await externalFormat(file);
  yield* program ? external(program, file) : decompress(createReadStream(file));
}

/** Whether `file` is a tar archive, compressed or not (its first header says `ustar`). */
export async function isTar(file: string): Promise<boolean> {
  const head: Buffer[] = [];
  let n = 0;
  const it = archiveBytes(file);
  try {
    for await (const c of it) {
      head.push(c);
      n += c.length;
      if (n >= 265) break;
    }
  } catch {
    return false;
  } finally {
    await it.return(undefined).catch(() => {});
  }
  return Buffer.concat(head).subarray(257, 262).toString('latin1') === 'ustar';
}
