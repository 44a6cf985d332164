/**
 * The seeds' hello-world image, built here rather than downloaded: a tiny
 * static x86-64 ELF laid out as docker-library's hello.asm does (one PT_LOAD
 * segment at 0x400000 holding the headers, the code and the message), in a
 * one-layer image `FROM scratch`, `ADD hello /`, `CMD ["/hello"]`.
 */
import tar from 'tar-stream';
import { Readable } from 'node:stream';
import { UnknownImageError, UsageError } from '../errors.js';
import { isRef, parseRef } from '../oci/reference.js';
import type { Store } from './store.js';
import type { ImageConfig } from '../oci/config.js';
import type { ImageRecord } from './types.js';

/** The text of seed 001's `docker run hello-world`, byte for byte. */
export const HELLO_MESSAGE = [
  'Hello from Docker.',
  'This message shows that your installation appears to be working correctly.',
  '',
  'To generate this message, Docker took the following steps:',
  ' 1. The Docker client contacted the Docker daemon.',
  ' 2. The Docker daemon pulled the "hello-world" image from the Docker Hub.',
  '    (Assuming it was not already locally available.)',
  ' 3. The Docker daemon created a new container from that image which runs the',
  '    executable that produces the output you are currently reading.',
  ' 4. The Docker daemon streamed that output to the Docker client, which sent it',
  '    to your terminal.',
  '',
  'To try something more ambitious, you can run an Ubuntu container with:',
  ' $ docker run -it ubuntu bash',
  '',
  'For more examples and ideas, visit:',
  ' http://docs.docker.com/userguide/',
  '',
].join('\n');

const BASE = 0x400000;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;

const REG = { rax: 0, rdx: 2, rsi: 6, rdi: 7 } as const;
type Reg = keyof typeof REG;

/**
 * `mov reg, imm`. Like nasm: a constant that fits in 32 bits uses
 * `mov r32, imm32` (B8+r, which zero-extends into the 64-bit register); an
 * address uses `movabs r64, imm64` (REX.W B8+r).
 */
function mov(reg: Reg, value: number, wide = false): Buffer {
  if (wide) {
    const b = Buffer.alloc(10);
    b[0] = 0x48;
    b[1] = 0xb8 + REG[reg];
    b.writeBigUInt64LE(BigInt(value), 2);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = 0xb8 + REG[reg];
  b.writeUInt32LE(value, 1);
  return b;
}
const SYSCALL = Buffer.from([0x0f, 0x05]);
const SYS_WRITE = 1;
const SYS_EXIT = 60;

/** The program: write(1, message, length); exit(0). */
function code(messageAddr: number, length: number): Buffer {
  return Buffer.concat([
    mov('rax', SYS_WRITE),
    mov('rdi', 1),
    mov('rsi', messageAddr, true),
    mov('rdx', length),
    SYSCALL,
    mov('rax', SYS_EXIT),
    mov('rdi', 0),
    SYSCALL,
  ]);
}

/** A static ELF64 executable that prints `message` and exits 0. */
export function helloElf(message: string = HELLO_MESSAGE): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const entry = EHDR_SIZE + PHDR_SIZE;
  const codeLen = code(0, 0).length;
  const text = code(BASE + entry + codeLen, msg.length);
  const fileSize = entry + text.length + msg.length;

  const ehdr = Buffer.alloc(EHDR_SIZE);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(ehdr, 0); // ELF, 64-bit, little-endian, v1, SysV ABI
  ehdr.writeUInt16LE(2, 16); // ET_EXEC
  ehdr.writeUInt16LE(0x3e, 18); // EM_X86_64
  ehdr.writeUInt32LE(1, 20); // EV_CURRENT
  ehdr.writeBigUInt64LE(BigInt(BASE + entry), 24); // e_entry
  ehdr.writeBigUInt64LE(BigInt(EHDR_SIZE), 32); // e_phoff
  ehdr.writeBigUInt64LE(0n, 40); // e_shoff: no sections
  ehdr.writeUInt32LE(0, 48); // e_flags
  ehdr.writeUInt16LE(EHDR_SIZE, 52);
  ehdr.writeUInt16LE(PHDR_SIZE, 54);
  ehdr.writeUInt16LE(1, 56); // e_phnum

  const phdr = Buffer.alloc(PHDR_SIZE);
  phdr.writeUInt32LE(1, 0); // PT_LOAD
  phdr.writeUInt32LE(5, 4); // PF_R | PF_X
  phdr.writeBigUInt64LE(0n, 8); // p_offset: the whole file, headers included
  phdr.writeBigUInt64LE(BigInt(BASE), 16); // p_vaddr
  phdr.writeBigUInt64LE(BigInt(BASE), 24); // p_paddr
  phdr.writeBigUInt64LE(BigInt(fileSize), 32); // p_filesz
  phdr.writeBigUInt64LE(BigInt(fileSize), 40); // p_memsz
  phdr.writeBigUInt64LE(0x200000n, 48); // p_align

  return Buffer.concat([ehdr, phdr, text, msg]);
}

/** Fixed, so the layer and the image ID are the same on every machine. */
const CREATED = new Date('2015-06-01T00:00:00Z');

/** The image's only layer: `/hello`, mode 0755, owned by root. */
export async function helloWorldLayer(): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'hello', mode: 0o755, uid: 0, gid: 0, mtime: CREATED, type: 'file' }, helloElf());
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export function helloWorldConfig(): ImageConfig {
  const created = CREATED.toISOString();
  return {
    architecture: 'amd64',
    os: 'linux',
    created,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/hello'] },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [
      { created, created_by: '/bin/sh -c #(nop) ADD file:hello in / ' },
      { created, created_by: '/bin/sh -c #(nop)  CMD ["/hello"]', empty_layer: true },
    ],
  };
}

export const BUILTIN_IMAGES = ['hello-world'] as const;

/** Builds a built-in image into the store and tags it `NAME:latest`. */
export async function loadBuiltin(store: Store, name: string): Promise<ImageRecord> {
  if (name !== 'hello-world') throw new UsageError(`no built-in image '${name}' (there is: ${BUILTIN_IMAGES.join(', ')})`);
  const layer = await helloWorldLayer();
  return store.addImage({ config: helloWorldConfig(), layers: [() => Readable.from([layer])], tags: [`${name}:latest`] });
}

/** The image `ref` names; a built-in one (`hello-world`) is created on first use. */
export async function ensureBuiltin(store: Store, ref: string): Promise<ImageRecord> {
  try {
    return await store.resolve(ref);
  } catch (err) {
    const r = isRef(ref) ? parseRef(ref) : null;
    if (!(err instanceof UnknownImageError) || r?.tag !== 'latest' || !(BUILTIN_IMAGES as readonly string[]).includes(r.name)) throw err;
    return loadBuiltin(store, r.name);
  }
}
