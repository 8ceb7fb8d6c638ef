import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { NotFoundError } from '../errors.js';

const ASSETS = new URL('./assets/', import.meta.url);
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
const FILES = new Set(['index.html', 'board.js', 'board.css', 'sse.js', 'favicon.svg']);
/**
 * Same-origin scripts, styles and requests only; no page may frame the board (clickjacking);
 * browsers must not guess a file's type from its bytes (docs/security.md).
 */
const HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
};

export interface BoardRoutesOptions {
  /** The hub checks bearer tokens (src/server/auth.ts TokenStore): the page asks for one only then. */
  tokenRequired: boolean;
}

/**
 * /board: the supervisor wallboard, static files shipped in the package (dist/board/assets). The
 * page is public; its data comes from /v1/live/* and /v1/stream with the read token it asks for,
 * when GET /board/access says the hub requires one.
 */
export const boardRoutes: FastifyPluginAsync<BoardRoutesOptions> = async (app, { tokenRequired }) => {
  const cache = new Map<string, Buffer>();
  const serve = async (file: string) => {
    if (!FILES.has(file)) throw new NotFoundError(`no board file ${file}`);
    let body = cache.get(file);
    if (!body) cache.set(file, (body = await readFile(new URL(file, ASSETS))));
    return body;
  };
  const hidden = { schema: { hide: true } };
  // Every answer under /board, a 404 included.
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(HEADERS);
  });
  app.get('/board', hidden, async (_request, reply) => reply.type(TYPES['.html'] as string).header('cache-control', 'no-cache').send(await serve('index.html')));
  // Whether to show the sign-in form; says nothing about the tokens themselves.
  app.get('/board/access', hidden, async (_request, reply) => reply.header('cache-control', 'no-store').send({ token_required: tokenRequired }));
  // Browsers ask for /favicon.ico whatever the page links: the board's icon (an SVG, which they accept by its type).
  app.get('/favicon.ico', hidden, async (_request, reply) => reply.type(TYPES['.svg'] as string).header('cache-control', 'max-age=86400').send(await serve('favicon.svg')));
  app.get<{ Params: { file: string } }>('/board/:file', hidden, async (request, reply) => {
    const file = request.params.file;
    const type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
    return reply.type(type).header('cache-control', 'no-cache').send(await serve(file));
  });
};
