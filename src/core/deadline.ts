/** A promise that did not settle within its deadline. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';

  constructor(readonly deadlineMs: number, what: string) {
    super(`${what} did not answer within ${deadlineMs} ms`);
  }
}

/**
 * Settles like `promise`, or rejects with a `DeadlineExceededError` naming `what` after
 * `deadlineMs`. The work itself is not cancelled (a Redis command already sent may still be
 * applied): callers that must say so do (src/log/appender.ts).
 */
export function withDeadline<T>(promise: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(deadlineMs, what)), deadlineMs);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
