import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files of one certificate: its key and certificate paths. */
export interface CertificateFiles {
  key: string;
  cert: string;
}

/**
 * A certificate authority made with the `openssl` command line, as docs/deployment.md does it:
 * a self-signed root, and what it signs.
 */
export class TestCa {
  private serial = 0;

  private constructor(
    private readonly dir: string,
    readonly name: string,
    readonly files: CertificateFiles,
  ) {}

  /** A self-signed root CA (P-256, one day). */
  static async create(dir: string, name: string): Promise<TestCa> {
    const files = { key: join(dir, `${name}.key`), cert: join(dir, `${name}.pem`) };
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', files.key, '-out', files.cert, '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return new TestCa(dir, name, files);
  }

  /** An intermediate CA signed by this one. */
  async intermediate(name: string): Promise<TestCa> {
    const files = await this.sign(name, ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign']);
    return new TestCa(this.dir, name, files);
  }

  /** A server certificate for localhost and 127.0.0.1, signed by this CA. */
  server(name: string): Promise<CertificateFiles> {
    return this.sign(name, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  }

  private async sign(name: string, extensions: string[]): Promise<CertificateFiles> {
    const files = { key: join(this.dir, `${name}.key`), cert: join(this.dir, `${name}.pem`) };
    const request = join(this.dir, `${name}.csr`);
    const extensionFile = join(this.dir, `${name}.ext`);
    writeFileSync(extensionFile, `${extensions.join('\n')}\n`);
    await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.key, '-out', request, '-subj', `/CN=${name}`]);
    this.serial += 1;
    await run('openssl', [
      'x509', '-req', '-in', request, '-CA', this.files.cert, '-CAkey', this.files.key, '-set_serial', String(Date.now() * 100 + this.serial),
      '-days', '1', '-extfile', extensionFile, '-out', files.cert,
    ]);
    return files;
  }
}
