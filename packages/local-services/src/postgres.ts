import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { postgresBinDir } from './binaries.js'
import { freePort } from './ports.js'
import { endAtExit } from './throwaway.js'
import { ensureLocalCa, ensureServerCertificate, installServerCertificate } from './tls.js'

const run = promisify(execFile)

export interface PostgresOptions {
  /** Data directory; a throwaway one under the OS temp dir when absent (removed on stop). */
  dataDir?: string
  /** Port on 127.0.0.1; a free one when absent. Ignored when the cluster in dataDir already runs. */
  port?: number
  /**
   * Password of the `postgres` role, set on every start. Absent: a random one for a throwaway server;
   * for a given dataDir the role keeps the password it has (attach or stop only).
   */
  password?: string
  /** Directory of the environment's CA (see tls.ts); default `<parent of dataDir>/tls`. */
  tlsDir?: string
}

export interface PostgresServer {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  /** PEM of the CA that signed the server certificate: what clients verify the server against. */
  readonly caFile: string
  readonly user: string
  /** Secret: the `postgres` role's password ('' when attached without one). */
  readonly password: string
  /**
   * Connection URL of the given database (default `postgres`): TLS verified against caFile
   * (`sslmode=verify-full&sslrootcert=…`, understood by node-postgres, libpq and the service alike).
   */
  url(database?: string): string
  stop(): Promise<void>
}

/**
 * Client authentication, as RDS with rds.force_ssl=1: TCP only over TLS with a password (SCRAM), every
 * other TCP connection refused. The Unix socket lives in the data directory (mode 0700), reachable by
 * the server's own OS user and root only: the local stand-in for the RDS control plane, used to set the
 * password; no client of the service uses it.
 */
const PG_HBA = `# Written by whatsapp-saas local services on every start (edits are overwritten).
local     all  all                trust
hostssl   all  all  127.0.0.1/32  scram-sha-256
hostssl   all  all  ::1/128       scram-sha-256
hostnossl all  all  0.0.0.0/0     reject
hostnossl all  all  ::/0          reject
`

// PostgreSQL refuses to run as root. As root we run initdb and the server as the `postgres`
// system user (created by the Debian package), which then owns the data directory.
function asServerUser(bin: string, args: string[]): [string, string[]] {
  if (userInfo().uid !== 0) return [bin, args]
  return ['runuser', ['-u', 'postgres', '--', bin, ...args]]
}

function postgresUid(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
  if (!line)
    throw new Error(
      'running as root needs the system user "postgres": install the Debian package postgresql-15',
    )
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

async function pgCtl(args: string[]): Promise<{ stdout: string; code: number }> {
  const [cmd, argv] = asServerUser(join(postgresBinDir(), 'pg_ctl'), args)
  try {
    const { stdout } = await run(cmd, argv, { encoding: 'utf8' })
    return { stdout, code: 0 }
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; code?: number }
    return { stdout: `${e.stdout ?? ''}${e.stderr ?? ''}`, code: typeof e.code === 'number' ? e.code : 1 }
  }
}

/** Port of the cluster running in dataDir, or undefined when it is not running. */
async function runningPort(dataDir: string): Promise<number | undefined> {
  if (!existsSync(join(dataDir, 'postmaster.pid'))) return undefined
  const status = await pgCtl(['status', '-D', dataDir])
  if (status.code !== 0) return undefined
  // postmaster.pid: line 4 is the port.
  const port = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[3])
  return Number.isInteger(port) && port > 0 ? port : undefined
}

async function pgCtlOrThrow(args: string[], dataDir: string, what: string): Promise<void> {
  const result = await pgCtl(args)
  if (result.code === 0) return
  const log = existsSync(join(dataDir, 'server.log'))
    ? readFileSync(join(dataDir, 'server.log'), 'utf8').slice(-800)
    : ''
  throw new Error(`PostgreSQL did not ${what} in ${dataDir}: ${result.stdout.trim()} ${log}`.trim())
}

/** Runs SQL as the superuser over the data directory's Unix socket (the only password-less way in). */
async function overSocket<T>(
  dataDir: string,
  port: number,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ host: dataDir, port, user: 'postgres', database: 'postgres' })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * Starts (or attaches to) a PostgreSQL cluster listening on 127.0.0.1 only, UTF-8, that accepts TLS
 * connections with a password only (see PG_HBA). A data directory made by an older version (trust
 * authentication, no TLS) is brought to this state in place, restarting a running server if it runs
 * without TLS. A given dataDir survives stop(); a throwaway one is deleted.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir()
  const throwaway = !options.dataDir
  // A throwaway server gets one temp root: its data directory and its CA side by side.
  const tempRoot = throwaway ? mkdtempSync(join(tmpdir(), 'wa-pg-')) : undefined
  if (tempRoot) chmodSync(tempRoot, 0o755) // the postgres user (when root) must reach data/
  const dataDir = options.dataDir ?? join(tempRoot as string, 'data')
  const tlsDir = options.tlsDir ?? join(dirname(dataDir), 'tls')
  const password = options.password ?? (throwaway ? randomBytes(18).toString('hex') : undefined)
  const owner = postgresUid()
  const host = '127.0.0.1'

  const ca = await ensureLocalCa(tlsDir)
  const certificate = await ensureServerCertificate(ca, 'postgres')

  const already = await runningPort(dataDir)
  let port = already ?? options.port ?? (await freePort())
  mkdirSync(dataDir, { recursive: true })
  if (owner) chownSync(dataDir, owner.uid, owner.gid)
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const [cmd, argv] = asServerUser(join(bin, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth-local=trust',
      '--auth-host=reject',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
    ])
    await run(cmd, argv)
  }
  installServerCertificate(certificate, dataDir, owner)
  writeFileSync(join(dataDir, 'pg_hba.conf'), PG_HBA)
  if (owner) chownSync(join(dataDir, 'pg_hba.conf'), owner.uid, owner.gid)

  const serverOptions = [
    `-p ${port}`,
    `-c listen_addresses=${host}`,
    `-k ${dataDir}`,
    `-c fsync=${throwaway ? 'off' : 'on'}`,
    '-c max_connections=200',
    '-c ssl=on',
    '-c password_encryption=scram-sha-256',
  ].join(' ')
  const logFile = join(dataDir, 'server.log')
  if (already === undefined) {
    await pgCtlOrThrow(
      ['start', '-w', '-t', '30', '-D', dataDir, '-l', logFile, '-o', serverOptions],
      dataDir,
      'start',
    )
    port = (await runningPort(dataDir)) ?? port
  } else {
    // Attached to a running server, perhaps started by an older version without TLS: ssl is a
    // start-time option here, so such a server restarts; otherwise a reload applies pg_hba.conf.
    const ssl = await overSocket(dataDir, port, (c) => c.query<{ ssl: string }>('SHOW ssl'))
    if (ssl.rows[0]?.ssl !== 'on') {
      await pgCtlOrThrow(
        ['restart', '-w', '-t', '30', '-m', 'fast', '-D', dataDir, '-l', logFile, '-o', serverOptions],
        dataDir,
        'restart with TLS',
      )
    } else {
      await pgCtlOrThrow(['reload', '-D', dataDir], dataDir, 'reload its configuration')
    }
  }
  if (password !== undefined)
    await overSocket(dataDir, port, (c) =>
      c.query(`ALTER ROLE postgres WITH PASSWORD ${c.escapeLiteral(password)}`),
    )

  const caQuery = `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca.caFile)}`
  // SIGINT: PostgreSQL's fast shutdown, what `pg_ctl stop -m fast` sends.
  const forget = tempRoot
    ? endAtExit(tempRoot, { pid: () => postmasterPid(dataDir), signal: 'SIGINT' })
    : () => {}
  return {
    host,
    port,
    dataDir,
    caFile: ca.caFile,
    user: 'postgres',
    password: password ?? '',
    url: (database = 'postgres') =>
      `postgresql://postgres${password ? `:${encodeURIComponent(password)}` : ''}@${host}:${port}/${database}?${caQuery}`,
    async stop() {
      await pgCtl(['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'])
      forget()
      if (tempRoot) rmSync(tempRoot, { recursive: true, force: true })
    },
  }
}

/** The postmaster's pid (line 1 of postmaster.pid), undefined when the server is not running. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}
