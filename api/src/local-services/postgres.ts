import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { postgresBinDir } from './binaries.js'
import { freePort } from './ports.js'

const run = promisify(execFile)

export interface PostgresOptions {
  /** Data directory; a throwaway one under the OS temp dir when absent (removed on stop). */
  dataDir?: string
  /** Port on 127.0.0.1; a free one when absent. Ignored when the cluster in dataDir already runs. */
  port?: number
}

export interface PostgresServer {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  /** Connection URL of the given database (default `postgres`). */
  url(database?: string): string
  stop(): Promise<void>
}

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

/**
 * Starts (or attaches to) a PostgreSQL cluster listening on 127.0.0.1 only, trust authentication,
 * UTF-8. A given dataDir survives stop(); a throwaway one is deleted.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir()
  const throwaway = !options.dataDir
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'wa-pg-'))
  const owner = postgresUid()
  const host = '127.0.0.1'

  const already = await runningPort(dataDir)
  let port = already ?? options.port ?? (await freePort())
  if (already === undefined) {
    mkdirSync(dataDir, { recursive: true })
    if (owner) chownSync(dataDir, owner.uid, owner.gid)
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      const [cmd, argv] = asServerUser(join(bin, 'initdb'), [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '--auth=trust',
        '-E',
        'UTF8',
        '--no-locale',
        '--no-sync',
      ])
      await run(cmd, argv)
    }
    const serverOptions = `-p ${port} -c listen_addresses=${host} -k ${dataDir} -c fsync=${throwaway ? 'off' : 'on'} -c max_connections=200`
    const started = await pgCtl([
      'start',
      '-w',
      '-t',
      '30',
      '-D',
      dataDir,
      '-l',
      join(dataDir, 'server.log'),
      '-o',
      serverOptions,
    ])
    if (started.code !== 0) {
      const log = existsSync(join(dataDir, 'server.log'))
        ? readFileSync(join(dataDir, 'server.log'), 'utf8').slice(-800)
        : ''
      throw new Error(`PostgreSQL did not start in ${dataDir}: ${started.stdout.trim()} ${log}`.trim())
    }
    port = (await runningPort(dataDir)) ?? port
  }

  return {
    host,
    port,
    dataDir,
    url: (database = 'postgres') => `postgresql://postgres@${host}:${port}/${database}`,
    async stop() {
      await pgCtl(['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'])
      if (throwaway) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
