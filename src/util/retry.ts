import pRetry, { AbortError } from 'p-retry';

const transientCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  // PostgreSQL: connection failures and an administrator shutting the server down.
  '08000',
  '08001',
  '08003',
  '08006',
  '57P01',
  '57P02',
  '57P03',
]);

/** True for failures that may pass when tried again: lost connections, a server restarting, HTTP 5xx. */
export function isTransient(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as {
    code?: unknown;
    statusCode?: unknown;
    status?: unknown;
    cause?: unknown;
    message?: unknown;
  };
  if (typeof e.code === 'string' && transientCodes.has(e.code)) return true;
  const status =
    typeof e.statusCode === 'number' ? e.statusCode : typeof e.status === 'number' ? e.status : 0;
  if (status >= 500) return true;
  if (typeof e.message === 'string' && /Connection terminated|socket hang up|fetch failed/i.test(e.message))
    return true;
  return e.cause !== undefined && e.cause !== error && isTransient(e.cause);
}

export interface RetryOptions {
  retries?: number;
  minTimeoutMs?: number;
  maxTimeoutMs?: number;
  onRetry?: (what: string, attempt: number, error: unknown) => void;
}

/** Runs `work`, retrying transient failures with exponential backoff; other errors pass at once. */
export async function withRetry<T>(
  what: string,
  work: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  return pRetry(
    async () => {
      try {
        return await work();
      } catch (error) {
        if (!isTransient(error)) throw new AbortError(error as Error);
        throw error;
      }
    },
    {
      retries: options.retries ?? 6,
      minTimeout: options.minTimeoutMs ?? 250,
      maxTimeout: options.maxTimeoutMs ?? 8000,
      onFailedAttempt: (failure) => {
        if (failure.retriesLeft > 0) options.onRetry?.(what, failure.attemptNumber, failure);
      },
    },
  );
}
