/**
 * A readable one-line description of any error, for everything a person reads (logs, /readyz,
 * a subscription's last error). Never empty: node-redis timeouts and socket errors can have an
 * empty `message`, so the class name, the system error code and the cause fill in.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error) || 'unknown error';
  const code = (error as NodeJS.ErrnoException).code;
  // node-redis's TimeoutError leaves both `name` and `message` at their defaults: its class names it.
  const kind = error.name === 'Error' ? error.constructor.name : error.name;
  const own = error.message || (kind === 'TimeoutError' ? 'Redis did not answer in time' : kind);
  const withCode = code && !own.includes(code) ? `${own} (${code})` : own;
  return error.cause === undefined ? withCode : `${withCode}: ${describeError(error.cause)}`;
}
