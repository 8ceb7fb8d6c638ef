import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { UnsupportedMediaTypeError, ValidationError, type ErrorDetail } from '../errors.js';

/** Problems listed per body at most: enough to fix it, bounded for a hostile one. */
const MAX_LISTED = 20;
/** A `\u` escape of a UTF-16 surrogate: the only way JSON text in valid UTF-8 can carry one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
/** With the `u` flag a valid pair is one code point, so this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The one JSON body parser of the HTTP API. Fastify's default would turn invalid UTF-8 and lone
 * surrogates into U+FFFD, so distinct ids would collide once stored, and would let a deeply nested
 * body reach `JSON.stringify`, whose recursion overflows the stack. Here a body must be UTF-8
 * (charset utf-8 or none; bytes checked), nest at most `maxDepth` levels, and every string, keys
 * included, must be well-formed Unicode. Fastify's own parser still does the parsing (with its
 * prototype-poisoning checks).
 */
export function registerJsonBodyParser(app: FastifyInstance, maxDepth: number): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      done(new UnsupportedMediaTypeError(`charset "${charset}" is not supported: send UTF-8 JSON`), undefined);
      return;
    }
    if (!isUtf8(bytes)) {
      done(new ValidationError('the body is not valid UTF-8', { details: [{ path: '', message: 'invalid UTF-8 byte sequence' }] }), undefined);
      return;
    }
    const text = bytes.toString('utf8');
    const depth = nestingDepth(text, maxDepth);
    if (depth > maxDepth) {
      done(new ValidationError(`the body nests deeper than ${maxDepth} levels`, { details: [{ path: '', message: `nesting depth above ${maxDepth}` }] }), undefined);
      return;
    }
    parseJson(request, text, (error, value) => {
      if (error) return done(error, undefined);
      if (SURROGATE_ESCAPE.test(text)) {
        const problems = illFormedStrings(value);
        if (problems.length > 0) {
          done(new ValidationError(`${problems.length} string${problems.length === 1 ? ' is' : 's are'} not well-formed Unicode (lone surrogate)`, { details: problems }), undefined);
          return;
        }
      }
      done(null, value);
    });
  });
}

/**
 * Deepest array/object nesting of JSON text, counting stops once past `limit` (strings skipped).
 * Runs before parsing, so nothing recursive ever sees a deeper body.
 */
export function nestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 92 /* \ */) i++;
      else if (code === 34 /* " */) inString = false;
    } else if (code === 34) {
      inString = true;
    } else if (code === 123 /* { */ || code === 91 /* [ */) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (code === 125 /* } */ || code === 93 /* ] */) {
      depth--;
    }
  }
  return deepest;
}

/**
 * Paths (JSON pointers) of strings and keys that are not well-formed UTF-16. The body's depth is
 * bounded already, so the recursion is too. A top-level array is a batch: `index` names the item.
 */
export function illFormedStrings(value: unknown): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const visit = (node: unknown, path: string, index: number | undefined) => {
    if (problems.length >= MAX_LISTED) return;
    const report = (at: string, what: string) =>
      problems.push({ ...(index === undefined ? {} : { index }), path: at, message: `${what} is not well-formed Unicode (lone surrogate)` });
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node)) report(path, 'the string');
    } else if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, `${path}/${i}`, index));
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, item] of Object.entries(node)) {
        const escaped = key.replace(/~/g, '~0').replace(/\//g, '~1');
        if (LONE_SURROGATE.test(key)) report(`${path}/${wellFormed(escaped)}`, 'the key');
        visit(item, `${path}/${wellFormed(escaped)}`, index);
      }
    }
  };
  if (Array.isArray(value)) value.forEach((item, i) => visit(item, '', i));
  else visit(value, '', undefined);
  return problems;
}

/** The text with each lone surrogate replaced by U+FFFD, so a path can be shown. */
function wellFormed(text: string): string {
  return text.replace(/\p{Cs}/gu, '\ufffd');
}
