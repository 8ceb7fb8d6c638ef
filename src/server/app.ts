import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { bearerAuth, type TokenStore } from './auth.js';
import type { HttpConfig } from '../config/schema.js';
import type { ServerCertificate } from './tls.js';
import { registerErrorHandling } from './errors.js';
import { registerJsonBodyParser } from './json-body.js';
import { typeboxValidatorCompiler } from './validator.js';
import { LazyRequestLogger } from './request-logger.js';

export interface ServerOptions {
  logger: Logger;
  http: Pick<
    HttpConfig,
    'bodyLimitBytes' | 'maxJsonDepth' | 'requestTimeoutMs' | 'headersTimeoutMs' | 'connectionTimeoutMs' | 'keepAliveTimeoutMs' | 'redisDeadlineMs' | 'trustProxy'
  >;
  /** Serve HTTPS with this certificate (src/server/tls.ts); absent: HTTP. */
  certificate?: ServerCertificate | undefined;
  tokens: TokenStore;
  /** Route plugins, each encapsulated. */
  plugins: readonly { plugin: FastifyPluginAsync<never>; options?: unknown }[];
}

/**
 * Many HTTP clients (IVR REST nodes, Express apps, generic SDKs) send `Content-Type:
 * application/json` with an empty body on GET, DELETE and bodiless POSTs. A route that declares no
 * body schema takes no body, so an empty one there is no body whatever its content type or
 * framing: the header is dropped before Fastify picks a parser. Routes that take a body still
 * answer an empty one with a 400 naming the problem.
 */
function treatEmptyBodiesAsNone(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const headers = request.raw.headers;
    if (headers['content-type'] !== undefined && takesNoBody(request) && declaresNoContent(headers)) {
      delete headers['content-type'];
    }
    done();
  });
  // A chunked body (Transfer-Encoding) says how long it is only at its end: wait for its first
  // bytes. An empty one is no body; otherwise its first chunk goes back to the stream for the parser.
  app.addHook('preParsing', async (request, _reply, payload) => {
    const headers = request.raw.headers;
    if (headers['content-type'] === undefined || headers['transfer-encoding'] === undefined || !takesNoBody(request)) return payload;
    if (!(await hasBytes(payload))) {
      delete headers['content-type'];
      delete headers['transfer-encoding'];
    }
    return payload;
  });
}

const takesNoBody = (request: FastifyRequest) => request.routeOptions.schema?.body === undefined;

/** HTTP/1.1: no body when Content-Length is 0, or when neither Content-Length nor Transfer-Encoding is sent. */
function declaresNoContent(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return false;
  const length = headers['content-length'];
  return length === undefined || length.trim() === '0';
}

/** Waits for the stream's first bytes (put back, unread) or its end without any. */
function hasBytes(stream: Readable): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const settle = (outcome: () => void) => {
      stream.off('readable', onReadable).off('end', onEnd).off('error', onError);
      outcome();
    };
    const onReadable = () => {
      const chunk = stream.read() as Buffer | null;
      if (chunk !== null) settle(() => (stream.unshift(chunk), resolve(true)));
    };
    const onEnd = () => settle(() => resolve(false));
    const onError = (error: Error) => settle(() => reject(error));
    stream.on('readable', onReadable).on('end', onEnd).on('error', onError);
  });
}

/** The HTTP server: error mapping, bearer auth, OpenAPI + browsable reference at /docs, then the routes. */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { http, certificate } = options;
  // Node checks the request and header deadlines on this interval (30 s by default); headers
  // are part of the request, so their deadline is never the later one.
  const serverOptions = {
    headersTimeout: Math.min(http.headersTimeoutMs, http.requestTimeoutMs),
    connectionsCheckingInterval: Math.min(1000, http.headersTimeoutMs),
  };
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: http.bodyLimitBytes,
    // A client that never finishes its request (or its headers) does not hold a socket forever.
    requestTimeout: http.requestTimeoutMs,
    connectionTimeout: http.connectionTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    // request.ip, request.protocol and request.host from X-Forwarded-* only when the peer is a listed proxy.
    // Checked with the config (src/config/load.ts): addresses, CIDR ranges or proxy-addr's names.
    trustProxy: http.trustProxy.length > 0 ? [...http.trustProxy] : false,
    // Fastify hands `https` alone to https.createServer: the deadlines go with it. A TLS handshake
    // gets no longer than the headers that follow it.
    ...(certificate
      ? { https: { ...certificate.options, ...serverOptions, handshakeTimeout: http.headersTimeoutMs } }
      : { http: serverOptions }),
    // Per-request info lines would dominate the log at intake rates.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings, options) => new LazyRequestLogger(logger, bindings, options),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  registerErrorHandling(app);
  app.setValidatorCompiler(typeboxValidatorCompiler);
  registerJsonBodyParser(app, http.maxJsonDepth);
  applyDeadline(app, http.redisDeadlineMs);
  treatEmptyBodiesAsNone(app);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Switchboard',
        version: '0.1.0',
        description: 'Telephony event hub: intake, Redis outputs, integrators, event subscriptions, CTI cache.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          basic: { type: 'http', scheme: 'basic' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(bearerAuth, { tokens: options.tokens });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  for (const { plugin, options: pluginOptions } of options.plugins) {
    await app.register(plugin, pluginOptions as never);
  }
  return app;
}

/**
 * Every route answers within `deadlineMs` (Fastify's handlerTimeout: 503 REDIS_UNAVAILABLE, see
 * ./errors.ts), unless it keeps its own (`config.ownDeadline`, e.g. intake, which spools) or
 * streams (a hijacked reply is left alone).
 */
function applyDeadline(app: FastifyInstance, deadlineMs: number): void {
  app.addHook('onRoute', (route) => {
    if (route.config?.ownDeadline || route.handlerTimeout !== undefined) return;
    route.handlerTimeout = deadlineMs;
  });
}
