import { Type } from '@sinclair/typebox';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../src/server/errors.js';
import { typeboxValidatorCompiler } from '../src/server/validator.js';

describe('route validation: TypeBox compiled, errors worded by src/validation.ts', () => {
  const app = Fastify();
  const seen: unknown[] = [];

  beforeAll(async () => {
    registerErrorHandling(app);
    app.setValidatorCompiler(typeboxValidatorCompiler);
    const Query = Type.Object(
      { since: Type.String({ minLength: 1 }), limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }), kind: Type.Optional(Type.Union([Type.Literal('a'), Type.Literal('b')])) },
      { additionalProperties: false },
    );
    const Body = Type.Object({ name: Type.String({ maxLength: 5 }), tags: Type.Optional(Type.Array(Type.Object({ id: Type.String() }, { additionalProperties: false }))) });
    app.post('/things/:id', { schema: { params: Type.Object({ id: Type.String({ maxLength: 3 }) }), querystring: Query, body: Body } }, async (request) => {
      seen.push({ params: request.params, query: request.query, body: request.body });
      return { ok: true };
    });
    await app.ready();
  });
  afterAll(() => app.close());

  it('converts query strings, fills defaults, drops unknown keys of closed objects only (as Fastify did with Ajv)', async () => {
    const answer = await app.inject({ method: 'POST', url: '/things/x1?since=0&limit=5&stray=1', payload: { name: 'n', extra: true, tags: [{ id: 'i', junk: 1 }] } });
    expect(answer.statusCode).toBe(200);
    const defaulted = await app.inject({ method: 'POST', url: '/things/x2?since=0', payload: { name: 'n' } });
    expect(defaulted.statusCode).toBe(200);
    expect(seen).toEqual([
      { params: { id: 'x1' }, query: { since: '0', limit: 5 }, body: { name: 'n', extra: true, tags: [{ id: 'i' }] } },
      { params: { id: 'x2' }, query: { since: '0', limit: 10 }, body: { name: 'n' } },
    ]);
  });

  it('answers 400 VALIDATION_FAILED naming every problem of the part, in plain words', async () => {
    const query = await app.inject({ method: 'POST', url: '/things/x?limit=abc&kind=c', payload: { name: 'n' } });
    expect(query.statusCode).toBe(400);
    expect(query.json()).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'querystring: /since is required; /limit Expected integer; /kind must be one of: a, b',
        details: [
          { path: '/since', message: 'is required' },
          { path: '/limit', message: 'Expected integer' },
          { path: '/kind', message: 'must be one of: a, b' },
        ],
      },
    });
    const params = await app.inject({ method: 'POST', url: '/things/long?since=0', payload: { name: 'n' } });
    expect(params.json().error).toEqual({ code: 'VALIDATION_FAILED', message: 'params: /id at most 3 characters', details: [{ path: '/id', message: 'at most 3 characters' }] });
    const body = await app.inject({ method: 'POST', url: '/things/x?since=0', payload: { name: 'toolong' } });
    expect(body.json().error.details).toEqual([{ path: '/name', message: 'at most 5 characters' }]);
    const none = await app.inject({ method: 'POST', url: '/things/x?since=0' });
    expect(none.statusCode).toBe(400);
    expect(none.json().error.details).toEqual([{ path: '', message: 'expected a JSON object' }]);
    expect(seen).toHaveLength(2);
  });
});
