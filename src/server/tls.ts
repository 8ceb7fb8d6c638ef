import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { TlsConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';

/** What the HTTPS server is given: PEM texts, ready for `https.createServer` and `setSecureContext`. */
export interface ServerCertificate {
  options: { cert: string; key: string; ca?: string };
  /** Of the server's own certificate (the first in certFile), for the log. */
  subject: string;
  validTo: string;
}

/**
 * Reads `http.tls`'s files and checks that they make a certificate a server can use (a key that
 * does not match fails here, naming the files, rather than at the first handshake).
 */
export function loadServerCertificate(tls: TlsConfig): ServerCertificate {
  const cert = readPemFile(tls.certFile, 'http.tls.certFile', 'CERTIFICATE');
  const key = readPemFile(tls.keyFile, 'http.tls.keyFile', 'PRIVATE KEY');
  const ca = tls.caFile === undefined ? undefined : readPemFile(tls.caFile, 'http.tls.caFile', 'CERTIFICATE');
  const options = { cert, key, ...(ca === undefined ? {} : { ca }) };
  try {
    createSecureContext(options);
  } catch (error) {
    throw new ConfigError(`http.tls: ${tls.certFile} with ${tls.keyFile} is not a usable certificate and key: ${(error as Error).message}`, { cause: error });
  }
  const own = new X509Certificate(cert);
  return { options, subject: own.subject.replaceAll('\n', ', '), validTo: own.validTo };
}

/**
 * The text of a PEM file holding at least one `-----BEGIN <label>` block (`PRIVATE KEY` also
 * matches `RSA PRIVATE KEY` and `EC PRIVATE KEY`); `key` names the setting in the error.
 */
export function readPemFile(path: string, key: string, label: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${key}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) {
    throw new ConfigError(`${key}: ${path} holds no PEM ${label.toLowerCase()} (-----BEGIN …${label}-----)`);
  }
  return text;
}
