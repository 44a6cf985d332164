/**
 * Bounded retries with exponential backoff. Only failures that a second try
 * can fix are retried: 5xx/429 answers and connections that broke or never
 * opened (a registry restarting is both).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NetworkError, RegistryError } from './registry-error.js';

export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 250, maxDelayMs: 4000 };

const TRANSIENT = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

export function isTransient(err: unknown): boolean {
  if (err instanceof RegistryError) return err.retryable;
  if (err instanceof NetworkError) return err.transient;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT.has(code);
}

/** Delay before try number `attempt` (1 = the first retry), with jitter so parallel layers do not retry in lockstep. */
export function backoff(policy: RetryPolicy, attempt: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + (Math.random() * exp) / 2);
}

export async function withRetries<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  onRetry?: (err: unknown, attempt: number) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isTransient(err) || attempt + 1 >= policy.attempts) throw err;
      onRetry?.(err, attempt + 1);
      await sleep(backoff(policy, attempt + 1));
    }
  }
}
