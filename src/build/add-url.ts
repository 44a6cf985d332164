/**
 * `ADD URL... DEST`: each URL is downloaded into a scratch directory, which
 * then serves as the instruction's source root. As docker's builder: the
 * file is named after the URL's last path component, gets mode 0600 and the
 * server's Last-Modified time, and is never unpacked; `--checksum=sha256:…`
 * is verified. The cache key is the data's digest, as for a local source.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdtemp, rm, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BuildError, DockerfileError } from '../errors.js';

export const isUrl = (p: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(p);

export interface Downloaded {
  /** The scratch directory holding the files; the caller removes it. */
  dir: string;
  /** Each file's name in `dir`, in the order of the URLs. */
  names: string[];
}

/** The file name docker gives a URL's download: its path's last component. */
function fileName(url: URL, destIsDir: boolean): string {
  const name = posix.basename(decodeURIComponent(url.pathname));
  if (name === '' || name === '/' || name === '.' || name === '..') {
    // Saved under DEST itself when DEST is a file name; a directory needs a name from the URL.
    if (destIsDir) throw new DockerfileError(`ADD ${url.href}: cannot determine a filename from the URL; name the destination file`);
    return 'download';
  }
  return name;
}

export async function downloadUrls(urls: string[], destIsDir: boolean, scratch: string, checksum?: string): Promise<Downloaded> {
  if (checksum !== undefined && !/^sha256:[0-9a-f]{64}$/.test(checksum)) throw new DockerfileError(`ADD --checksum=${checksum}: use sha256:<64 hex digits>`);
  if (checksum !== undefined && urls.length > 1) throw new DockerfileError('ADD --checksum: only with a single source');
  const dir = await mkdtemp(join(scratch, 'add-url-'));
  try {
    const names: string[] = [];
    for (const href of urls) {
      const url = new URL(href);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DockerfileError(`ADD ${href}: only http and https URLs are supported`);
      const name = fileName(url, destIsDir);
      if (names.includes(name)) throw new DockerfileError(`ADD ${href}: two sources named ${name}`);
      const res = await fetch(url, { redirect: 'follow' }).catch((err: Error) => {
        throw new BuildError(`ADD ${href}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
      });
      if (!res.ok || res.body === null) throw new BuildError(`ADD ${href}: failed to GET with status ${res.status} ${res.statusText}`);
      const file = join(dir, name);
      const hash = createHash('sha256');
      const tap = new Transform({ transform: (chunk: Buffer, _e, done) => done(null, (hash.update(chunk), chunk)) });
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), tap, createWriteStream(file, { mode: 0o600 }));
      const got = `sha256:${hash.digest('hex')}`;
      if (checksum !== undefined && got !== checksum) throw new BuildError(`ADD ${href}: checksum mismatch: expected ${checksum}, got ${got}`);
      await chmod(file, 0o600);
      const modified = Date.parse(res.headers.get('last-modified') ?? '');
      if (Number.isFinite(modified)) await utimes(file, modified / 1000, modified / 1000);
      names.push(name);
    }
    return { dir, names };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
