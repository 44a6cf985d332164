/**
 * The probe: a short-lived child process that makes the filesystem calls a
 * workload times, with a high-resolution clock around exactly those calls
 * (node's start-up is outside the measurement). It prints `{"ns": "..."}`.
 * Run as `node probe.js '<json op>'`.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, writeSync, writeFileSync } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { gridPath } from './trees.js';

export type ProbeOp =
  | { op: 'write1'; path: string }
  | { op: 'create'; dir: string; count: number; size: number }
  | { op: 'lstat'; root: string; dirs: number; perDir: number }
  | { op: 'readdir'; path: string; expect: number }
  | { op: 'readtree'; paths: string[] }
  | { op: 'randread'; path: string; size: number; count: number }
  | { op: 'compile'; root: string; dirs: number; perDir: number }
  | { op: 'npmci'; dir: string; dirs: number; perDir: number; size: number };

function time(fn: () => void): bigint {
  const start = process.hrtime.bigint();
  fn();
  return process.hrtime.bigint() - start;
}

async function readTree(path: string, buf: Buffer): Promise<void> {
  const st = lstatSync(path);
  if (st.isDirectory()) {
    for await (const e of await opendir(path)) await readTree(join(path, e.name), buf);
  } else if (st.isFile()) {
    const fd = openSync(path, 'r');
    try {
      while (readSync(fd, buf, 0, buf.length, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
}

async function perform(p: ProbeOp): Promise<bigint> {
  switch (p.op) {
    case 'write1': {
      // The first data write to a lower file: open for writing is where an
      // overlay copies up, so open, the 1-byte write and close are all timed.
      const one = Buffer.from('x');
      const write1 = (path: string) => time(() => {
        const fd = openSync(path, 'r+');
        writeSync(fd, one, 0, 1, 0);
        closeSync(fd);
      });
      // Twice on /dev/null first, so node's first-call costs are not timed.
      write1('/dev/null');
      write1('/dev/null');
      return write1(p.path);
    }
    case 'create': {
      const data = Buffer.alloc(p.size, 'c');
      return time(() => {
        mkdirSync(p.dir);
        for (let i = 0; i < p.count; i++) writeFileSync(join(p.dir, `f${i}`), data);
      });
    }
    case 'lstat':
      return time(() => {
        for (let d = 0; d < p.dirs; d++) for (let f = 0; f < p.perDir; f++) lstatSync(join(p.root, gridPath(d, f)));
      });
    case 'readdir': {
      let n = readdirSync('/').length; // node's first-call costs, untimed
      const ns = time(() => {
        n = readdirSync(p.path).length;
      });
      if (n !== p.expect) throw new Error(`readdir ${p.path}: ${n} entries, expected ${p.expect}`);
      return ns;
    }
    case 'randread': {
      // Random 4 KiB reads at 4 KiB-aligned offsets (a fixed seed: every system reads the same blocks).
      const buf = Buffer.allocUnsafe(4096);
      const blocks = Math.floor(p.size / 4096);
      let seed = 12345;
      const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
      const fd = openSync(p.path, 'r');
      try {
        return time(() => {
          for (let i = 0; i < p.count; i++) readSync(fd, buf, 0, 4096, (next() % blocks) * 4096);
        });
      } finally {
        closeSync(fd);
      }
    }
    case 'compile': {
      // What a compiler's dependency scan does: lstat, then open and read, each small file.
      const buf = Buffer.allocUnsafe(64 * 1024);
      return time(() => {
        for (let d = 0; d < p.dirs; d++) {
          for (let f = 0; f < p.perDir; f++) {
            const path = join(p.root, gridPath(d, f));
            lstatSync(path);
            const fd = openSync(path, 'r');
            while (readSync(fd, buf, 0, buf.length, null) > 0);
            closeSync(fd);
          }
        }
      });
    }
    case 'npmci': {
      // An `npm ci`-like unpack: many small files spread over many directories.
      const data = Buffer.alloc(p.size, 'n');
      return time(() => {
        for (let d = 0; d < p.dirs; d++) {
          const dir = join(p.dir, `pkg${d}`, 'lib');
          mkdirSync(dir, { recursive: true });
          for (let f = 0; f < p.perDir; f++) writeFileSync(join(dir, `m${f}.js`), data);
        }
      });
    }
    case 'readtree': {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (const path of p.paths) await readTree(path, buf);
      return 0n;
    }
  }
}

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('usage: probe.js <json op>\n');
  process.exit(2);
}
try {
  const ns = await perform(JSON.parse(arg) as ProbeOp);
  process.stdout.write(JSON.stringify({ ns: ns.toString() }) + '\n');
} catch (err) {
  // One line the harness can show as the reason a cell failed.
  process.stderr.write(`probe: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
