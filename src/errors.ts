import { constants } from 'node:os';
import { format, getSystemErrorMap } from 'node:util';

const errnos = constants.errno as Record<string, number>;
const names = new Map<number, string>(Object.entries(errnos).map(([k, v]) => [v, k]));
/** 'ENOENT' → 'no such file or directory', as Node's own errors say it. */
const descriptions = new Map<string, string>([...getSystemErrorMap().values()]);

export type ErrnoCode = keyof typeof constants.errno;

/**
 * The one filesystem error type: an errno code with the syscall and path that
 * failed, and a Node-style message ("ENOENT: no such file, lstat '/x'").
 */
export class FsError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  readonly path?: string;
  constructor(code: string, syscall: string, path?: string, detail?: string) {
    // An FsError is an answer (ENOENT for a name that is not there), not a bug:
    // it carries no stack trace, which would cost more than the lookup itself.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${code}: ${detail ?? descriptions.get(code) ?? code.toLowerCase()}, ${syscall}${path === undefined ? '' : ` '${path}'`}`);
    Error.stackTraceLimit = limit;
    this.name = 'FsError';
    this.code = code;
    this.syscall = syscall;
    this.path = path;
    this.errno = errnos[code] ?? errnos.EIO!;
  }

  /** From a negative errno returned by the native module. */
  static fromErrno(negErrno: number, syscall: string, path?: string): FsError {
    return new FsError(names.get(-negErrno) ?? 'EIO', syscall, path);
  }
}

export const fsError = (code: ErrnoCode, syscall: string, path?: string) => new FsError(code, syscall, path);

/** Throws an FsError when a native call returned a negative errno; passes a result through. */
export function check(ret: number, syscall: string, path?: string): number {
  if (ret < 0) throw FsError.fromErrno(ret, syscall, path);
  return ret;
}

/**
 * The one place an error becomes a FUSE answer: a negative errno.
 * FsError and Node's own errno errors keep their code; anything else is a bug,
 * logged and answered with EIO so the request never goes unanswered.
 */
export function toErrno(err: unknown, log: (msg: string) => void = (m) => process.stderr.write(m + '\n')): number {
  if (err instanceof FsError) return -err.errno;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && errnos[code] !== undefined) return -errnos[code]!;
  log(`layerfs: unexpected error, answering EIO: ${format(err)}`);
  return -errnos.EIO!;
}

export const errnoOf = (code: ErrnoCode): number => errnos[code]!;

/** Domain errors: a stable code, the offending path or digest, a message naming both. */
export class LayerfsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadArchiveError extends LayerfsError {
  constructor(file: string, reason: string, entry?: string) {
    super('BAD_ARCHIVE', `${file}${entry ? `: entry '${entry}'` : ''}: ${reason}`, { file, entry, reason });
  }
}

export class DigestMismatchError extends LayerfsError {
  constructor(what: string, expected: string, actual: string) {
    super('DIGEST_MISMATCH', `${what}: digest mismatch, expected ${expected}, got ${actual}`, { what, expected, actual });
  }
}

export class BadDigestError extends LayerfsError {
  constructor(what: string, digest: unknown) {
    super('BAD_DIGEST', `${what}: not a sha256 digest: ${JSON.stringify(digest)}`, { what, digest });
  }
}

export class BadManifestError extends LayerfsError {
  constructor(what: string, reason: string) {
    super('BAD_MANIFEST', `${what}: ${reason}`, { what, reason });
  }
}

export class UnsafePathError extends LayerfsError {
  constructor(file: string, entry: string, reason: string) {
    super('UNSAFE_PATH', `${file}: entry '${entry}': ${reason}`, { file, entry, reason });
  }
}

export class UnknownImageError extends LayerfsError {
  constructor(ref: string) {
    super('UNKNOWN_IMAGE', `no such image: ${ref}`, { ref });
  }
}

export class UsageError extends LayerfsError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** A Dockerfile (or `--change`) that cannot be built: names the file and line when it has them. */
export class DockerfileError extends LayerfsError {
  constructor(
    readonly reason: string,
    where?: { file: string; line: number },
  ) {
    super('DOCKERFILE', where ? `${where.file}:${where.line}: ${reason}` : reason, { ...where, reason });
  }
}

/** A build step that failed; `exitCode` is a failed RUN's own status. */
export class BuildError extends LayerfsError {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super('BUILD_FAILED', message, { exitCode });
  }
}

/** A store record (tags.json, an image's or container's JSON, …) that cannot be read as one. */
export class DamagedRecordError extends LayerfsError {
  constructor(file: string, reason: string) {
    super('DAMAGED_RECORD', `${file}: damaged record: ${reason}`, { file, reason });
  }
}

/** The store's filesystem would fill up (below its reserve). */
export class NoSpaceError extends LayerfsError {
  constructor(message: string, data: Record<string, unknown>) {
    super('NO_SPACE', message, data);
  }
}
