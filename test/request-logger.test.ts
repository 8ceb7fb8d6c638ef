import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { LazyRequestLogger } from '../src/server/request-logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'info', redact: { paths: ['*.password'], censor: '[redacted]' } }, stream);
  return { logger, lines };
}

describe('LazyRequestLogger', () => {
  it('makes the pino child only when the request logs, with its bindings and the parent redaction', () => {
    const { logger, lines } = capture();
    const child = vi.spyOn(logger, 'child');
    const quiet = new LazyRequestLogger(logger, { reqId: 'req-1' }, {});
    expect(quiet.level).toBe('info');
    expect(child).not.toHaveBeenCalled();

    const noisy = new LazyRequestLogger(logger, { reqId: 'req-2' }, {});
    noisy.info({ user: { password: 'hunter2' } }, 'created %s', 'x');
    noisy.debug('below the level');
    noisy.error(new Error('boom'));
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines).toMatchObject([
      { reqId: 'req-2', level: 30, msg: 'created x', user: { password: '[redacted]' } },
      { reqId: 'req-2', level: 50, err: { message: 'boom' } },
    ]);
  });

  it('honours a route log level and nests children', () => {
    const { logger, lines } = capture();
    const request = new LazyRequestLogger(logger, { reqId: 'req-3' }, { level: 'warn' });
    expect(request.level).toBe('warn');
    request.info('dropped');
    request.child({ part: 'inner' }).warn('kept');
    expect(lines).toMatchObject([{ reqId: 'req-3', part: 'inner', msg: 'kept' }]);
    expect(lines).toHaveLength(1);
  });
});
