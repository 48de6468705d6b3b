import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type PostgresServer, startPostgres } from '@whatsapp-saas/local-services'
import pg from 'pg'
import { runOpsCli } from '../../src/ops/cli.js'

/** What one ops command printed and returned, captured in-process. */
export interface CliRun {
  exitCode: number
  stderr: string[]
  stdout: string[]
  result: Record<string, unknown>
}

export async function runCli(argv: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  const stderr: string[] = []
  const stdout: string[] = []
  const exitCode = await runOpsCli(argv, env, {
    stderr: (line) => stderr.push(line),
    stdout: (line) => stdout.push(line),
  })
  const last = stdout.at(-1)
  return { exitCode, stderr, stdout, result: last ? (JSON.parse(last) as Record<string, unknown>) : {} }
}

/** A real PostgreSQL 15 for one test file, with helpers to make and inspect databases. */
export interface OpsTestDatabase {
  server: PostgresServer
  /** A new empty database; with `password`, its URL logs in as a new role with that password (SCRAM). */
  createDatabase(options?: { password?: string }): Promise<string>
  query<T extends pg.QueryResultRow>(url: string, sql: string, values?: unknown[]): Promise<T[]>
  databases(): Promise<string[]>
  stop(): Promise<void>
}

export async function startOpsTestDatabase(): Promise<OpsTestDatabase> {
  const server = await startPostgres()
  const admin = server.url('postgres')
  const query = async <T extends pg.QueryResultRow>(url: string, sql: string, values?: unknown[]) => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return (await client.query<T>(sql, values)).rows
    } finally {
      await client.end()
    }
  }
  return {
    server,
    query,
    async createDatabase(options = {}) {
      const name = `ops_${randomBytes(4).toString('hex')}`
      await query(admin, `CREATE DATABASE ${name}`)
      const url = new URL(server.url(name))
      if (options.password) {
        const role = `ops_user_${randomBytes(4).toString('hex')}`
        await query(
          admin,
          `CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${options.password.replace(/'/g, "''")}'`,
        )
        url.username = role
        url.password = options.password
      }
      return url.href
    },
    async databases() {
      const rows = await query<{ datname: string }>(admin, 'SELECT datname FROM pg_database ORDER BY 1')
      return rows.map((r) => r.datname)
    },
    stop: () => server.stop(),
  }
}

/** A tiny two-table schema standing in for the service's (enough for dump/restore mechanics). */
export async function createTinySchema(db: OpsTestDatabase, url: string, messages: number): Promise<void> {
  await db.query(
    url,
    `CREATE TABLE organization (id serial PRIMARY KEY, name text NOT NULL);
     CREATE TABLE message (id bigserial PRIMARY KEY, organization_id int NOT NULL REFERENCES organization(id),
                           body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
     CREATE INDEX message_org_idx ON message (organization_id);
     INSERT INTO organization (name) VALUES ('acme'), ('globex'), ('initech');
     INSERT INTO message (organization_id, body)
       SELECT 1 + g % 3, 'hello ' || g FROM generate_series(1, ${messages}) g;`,
  )
}

/** A throwaway directory removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
