import { execFile } from 'node:child_process'
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { requireBinary } from './binaries.js'

const run = promisify(execFile)

/**
 * A certificate authority of one local environment (a `.pipeline/local` directory, or one throwaway
 * test server): the local stand-in for the RDS and ElastiCache certificate chains. Clients trust
 * `caFile` the way they trust the RDS CA bundle on AWS, and verify the server's name against it.
 */
export interface LocalCa {
  readonly dir: string
  /** PEM of the CA certificate (public). */
  readonly caFile: string
  readonly caKeyFile: string
}

export interface ServerCertificate {
  readonly certFile: string
  readonly keyFile: string
}

// openssl (a dependency of PostgreSQL and Redis on Debian anyway) issues the certificates: Node has no
// X.509 issuing API, and a certificate library would be one more dependency for four commands.
async function openssl(args: string[]): Promise<void> {
  await run(requireBinary('openssl', 'openssl'), args)
}

/** The CA in dir, generated on first use (P-256 keys: issuing is instant, unlike RSA). Idempotent. */
export async function ensureLocalCa(dir: string): Promise<LocalCa> {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const ca: LocalCa = { dir, caFile: join(dir, 'ca.crt'), caKeyFile: join(dir, 'ca.key') }
  if (existsSync(ca.caFile) && existsSync(ca.caKeyFile)) return ca
  await openssl([
    'req',
    '-x509',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '3650',
    '-subj',
    '/CN=whatsapp-saas local CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    ca.caKeyFile,
    '-out',
    ca.caFile,
  ])
  chmodSync(ca.caKeyFile, 0o600)
  return ca
}

/**
 * A server certificate signed by the CA for 127.0.0.1 and localhost, written as `<name>.crt` and
 * `<name>.key` next to the CA (created once, then reused).
 */
export async function ensureServerCertificate(ca: LocalCa, name: string): Promise<ServerCertificate> {
  const cert: ServerCertificate = {
    certFile: join(ca.dir, `${name}.crt`),
    keyFile: join(ca.dir, `${name}.key`),
  }
  if (existsSync(cert.certFile) && existsSync(cert.keyFile)) return cert
  const request = join(ca.dir, `${name}.csr`)
  await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    cert.keyFile,
    '-out',
    request,
  ])
  chmodSync(cert.keyFile, 0o600)
  const extensions = join(ca.dir, `${name}.ext`)
  writeFileSync(extensions, SERVER_EXTENSIONS)
  await openssl([
    'x509',
    '-req',
    '-in',
    request,
    '-CA',
    ca.caFile,
    '-CAkey',
    ca.caKeyFile,
    '-CAcreateserial',
    '-days',
    '825',
    '-extfile',
    extensions,
    '-out',
    cert.certFile,
  ])
  rmSync(extensions, { force: true })
  rmSync(request, { force: true })
  return cert
}

const SERVER_EXTENSIONS = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth',
  'subjectAltName=IP:127.0.0.1,DNS:localhost',
  '',
].join('\n')

/**
 * Copies a certificate and key where a server reads them, the key mode 0600 and owned by the server's
 * user (PostgreSQL refuses a key anyone else can read).
 */
export function installServerCertificate(
  cert: ServerCertificate,
  dir: string,
  owner?: { uid: number; gid: number },
): ServerCertificate {
  const installed: ServerCertificate = { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') }
  copyFileSync(cert.certFile, installed.certFile)
  copyFileSync(cert.keyFile, installed.keyFile)
  chmodSync(installed.keyFile, 0o600)
  chmodSync(installed.certFile, 0o644)
  if (owner) {
    chownSync(installed.keyFile, owner.uid, owner.gid)
    chownSync(installed.certFile, owner.uid, owner.gid)
  }
  return installed
}
