// The pull-request verdict on migrations: a fresh PostgreSQL gets the base branch's migrations, then the
// ops `migration-status` command of the head branch lists what a deploy would apply, each with the
// safety verdict of api/src/ops/migration-safety.ts. Rendered as Markdown for the job summary.

/** Shape of the JSON line `migration-status` ends with (api/src/ops/commands/migration-status.ts). */
export interface MigrationStatusLine {
  command?: string
  ok?: boolean
  applied: string[]
  pending: {
    migration: string
    verdict: 'safe' | 'destructive'
    findings: { rule: string; statement: string; message: string }[]
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

/**
 * Shell run in the toolbox (workdir = repository root, DATABASE_URL = an empty database): base
 * migrations applied with the Prisma CLI, head migrations restored, then `migration-status`, whose
 * JSON line is the last line of stdout.
 */
export function migrationSafetyScript(baseMigrations: string = BASE_MIGRATIONS_MOUNT): string {
  return [
    'set -e',
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
    'npx --no-install tsx src/ops/main.ts migration-status',
  ].join('\n')
}

export function parseMigrationStatus(stdout: string): MigrationStatusLine {
  const last = stdout.trim().split('\n').at(-1) ?? ''
  let parsed: unknown
  try {
    parsed = JSON.parse(last)
  } catch {
    throw new Error(`migration-status did not end with a JSON line: ${last.slice(0, 200)}`)
  }
  const line = parsed as Partial<MigrationStatusLine>
  if (!Array.isArray(line.pending) || !Array.isArray(line.applied)) {
    throw new Error('migration-status JSON has no applied/pending lists')
  }
  return { failed: [], unknown: [], destructive: false, ...line } as MigrationStatusLine
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
