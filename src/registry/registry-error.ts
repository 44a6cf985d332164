import { LayerfsError } from '../errors.js';

/** One entry of a distribution API error body: `{"errors":[{"code","message","detail"}]}`. */
export interface ApiError {
  code: string;
  message: string;
}

/**
 * A registry answered with a status we cannot use. `status` and the API error
 * codes let callers tell "unknown manifest" from "server broke"; 5xx and 429
 * are marked retryable.
 */
export class RegistryError extends LayerfsError {
  readonly retryable: boolean;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly errors: ApiError[] = [],
    detail?: string,
  ) {
    const what = errors.length > 0 ? errors.map((e) => `${e.code}: ${e.message}`).join('; ') : (detail ?? '');
    super('REGISTRY', `${method} ${url}: ${status}${what ? ` ${what}` : ''}`, { method, url, status, errors });
    this.retryable = status >= 500 || status === 429;
  }

  has(code: string): boolean {
    return this.errors.some((e) => e.code === code);
  }
}

/** The registry refused our credentials, or wants some and we have none. */
export class AuthError extends LayerfsError {
  constructor(registry: string, reason: string) {
    super('UNAUTHORIZED', `${registry}: ${reason}`, { registry, reason });
  }
}

/**
 * A network failure, made readable. `transient` says whether another try
 * could help (a reset or a refused connection; not a TLS mismatch).
 */
export class NetworkError extends LayerfsError {
  constructor(
    url: string,
    reason: string,
    cause?: unknown,
    readonly transient = false,
  ) {
    super('NETWORK', `${url}: ${reason}`, { url, reason });
    if (cause !== undefined) this.cause = cause;
  }
}

/** Parses an error body; registries answer JSON, proxies may answer anything. */
export function parseApiErrors(body: Buffer): ApiError[] {
  try {
    const json = JSON.parse(body.toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(json.errors)) return [];
    return json.errors.flatMap((e: unknown) => {
      const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown };
      return typeof code === 'string' ? [{ code, message: typeof message === 'string' ? message : '' }] : [];
    });
  } catch {
    return [];
  }
}

/** The registry has no such repository, tag or digest. */
export class NotFoundError extends LayerfsError {
  constructor(ref: string, registry: string, detail: string) {
    super('NOT_FOUND', `${ref}: not found on ${registry} (${detail})`, { ref, registry });
  }
}
