// The pull-request verdict on migrations: a fresh PostgreSQL gets the base branch's migrations, then the
// ops `migration-status` command of the head branch lists what a deploy would apply, each with the
// safety verdict of api/src/ops/migration-safety.ts. Rendered as Markdown for the job summary.
//
// The command's final line is read by the pipeline's one strict parser (`parseOpsLine` of
// ci/src/core/ops-output.ts), run inside the toolbox container: the module's runtime cannot load it (the
// engine gives the module ci/dagger only), the container has the whole repository. The module then only
// decodes the line that parser accepted and printed again.

/** The `migration-status` line as `parseOpsLine` accepted it (api/src/ops/reports.ts, MigrationStatusReport). */
export interface MigrationStatusLine {
  command: 'migration-status'
  ok: true
  applied: string[]
  pending: {
    migration: string
    verdict: 'safe' | 'destructive'
    findings: { migration: string; rule: string; statement: string; message: string }[]
  }[]
  failed: string[]
  unknown: string[]
  destructive: boolean
}

export const BASE_MIGRATIONS_MOUNT = '/base/migrations'

/** The empty PostgreSQL the verdict runs against: a service container bound by this host name. */
export const MIGRATION_SAFETY_DATABASE = {
  host: 'postgres',
  name: 'migration_safety',
  // Trust authentication inside the engine's private network only; no password exists to leak.
  url: 'postgresql://postgres@postgres:5432/migration_safety',
} as const

/** Where the script keeps the raw output of `migration-status` for the parser. */
const STATUS_OUTPUT = '"$status_output"'

/**
 * Run with `tsx --eval` at the repository root after `migration-status`: reads the command's final line
 * (file named by MIGRATION_STATUS_OUTPUT) with the core's `parseOpsLine`, and prints it again, or exits 1
 * with the reason (not a JSON line, a key the command never prints, a failure line). No single quote in
 * it: the script passes it single-quoted.
 */
export const MIGRATION_STATUS_CHECK = [
  'import { readFileSync } from "node:fs"',
  'import { parseOpsLine } from "./ci/src/core/ops-output.ts"',
  'const last = readFileSync(process.env.MIGRATION_STATUS_OUTPUT, "utf8").trim().split("\\n").at(-1) ?? ""',
  'const refuse = (reason) => { console.error(reason); process.exit(1) }',
  'let value',
  'try { value = JSON.parse(last) } catch { refuse("migration-status did not end with a JSON line: " + last.slice(0, 200)) }',
  'let line',
  'try { line = parseOpsLine("migration-status", value) } catch (error) { refuse(error.message) }',
  'if (line.ok === false) refuse("migration-status failed: " + line.error)',
  'console.log(JSON.stringify(line))',
].join('\n')

/**
 * Shell run in the toolbox (workdir = repository root, DATABASE_URL = an empty database): base
 * migrations applied with the Prisma CLI, head migrations restored, then `migration-status`, whose
 * final line the core's parser checks and prints as the last line of stdout.
 */
export function migrationSafetyScript(baseMigrations: string = BASE_MIGRATIONS_MOUNT): string {
  return [
    'set -e',
    'status_output=$(mktemp)',
    'cd api',
    // A fresh folder per run, and the head migrations put back even when the base ones fail.
    'head=$(mktemp -d)',
    'mv prisma/migrations "$head/migrations"',
    'trap \'rm -rf prisma/migrations; mv "$head/migrations" prisma/migrations; rmdir "$head"\' EXIT',
    `cp -r '${baseMigrations}' prisma/migrations`,
    'npx --no-install prisma migrate deploy >&2',
    'rm -rf prisma/migrations',
    'mv "$head/migrations" prisma/migrations',
    'rmdir "$head"',
    'trap - EXIT',
    `npx --no-install tsx src/ops/main.ts migration-status > ${STATUS_OUTPUT}`,
    'cd ..',
    `MIGRATION_STATUS_OUTPUT=${STATUS_OUTPUT} npx --no-install tsx --eval '${MIGRATION_STATUS_CHECK}'`,
  ].join('\n')
}

/** The last stdout line of the script: the `migration-status` line the core's parser accepted. */
export function parseMigrationStatus(stdout: string): MigrationStatusLine {
  const last = stdout.trim().split('\n').at(-1) ?? ''
  try {
    return JSON.parse(last) as MigrationStatusLine
  } catch {
    throw new Error(`the migration-status check did not print its line: ${last.slice(0, 200)}`)
  }
}

function code(text: string): string {
  return `\`${text.replaceAll('`', "'").replaceAll('\n', ' ')}\``
}

export function migrationSafetyMarkdown(status: MigrationStatusLine): string {
  const lines = ['### Migration safety']
  if (status.pending.length === 0) {
    lines.push('', 'No new migrations in this change.')
    return `${lines.join('\n')}\n`
  }
  lines.push(
    '',
    status.destructive
      ? '**Destructive migrations pending**: deploys stop at the migrate stage unless run with `--allow-destructive` after review.'
      : 'All pending migrations are safe to apply online.',
    '',
    '| migration | verdict | findings |',
    '| --- | --- | --- |',
  )
  for (const pending of status.pending) {
    const findings = pending.findings.map((f) => `${f.rule}: ${f.message} ${code(f.statement)}`).join('<br>')
    const verdict = pending.verdict === 'destructive' ? '**destructive**' : 'safe'
    lines.push(`| ${code(pending.migration)} | ${verdict} | ${findings.replaceAll('|', '\\|') || '—'} |`)
  }
  return `${lines.join('\n')}\n`
}
