// What the ops commands print last (api/src/ops/reports.ts), for scripted targets: the pipeline's parser is
// strict, so fixtures must be the real shapes (test/core/ops-output.test.ts reads the real commands).

/** Final lines exactly as the ops commands print them (api/src/ops/reports.ts); the parser is strict. */
export const OPS_LINES = {
  backup: {
    command: 'backup',
    ok: true,
    backupId: 'bk-1',
    store: 'file:///backups',
    sizeBytes: 2048,
    sha256: 'f'.repeat(64),
    tables: 12,
    rows: 340,
    durationMs: 900,
    createdAt: '2026-11-29T10:00:00.000Z',
  },
  'verify-backup': {
    command: 'verify-backup',
    ok: true,
    backupId: 'bk-1',
    verifiedAt: '2026-11-29T10:00:05.000Z',
    checksumOk: true,
    tablesCompared: 12,
    durationMs: 4000,
  },
  'migration-status': {
    command: 'migration-status',
    ok: true,
    applied: ['0001_init'],
    pending: [{ migration: '0002_add_index', verdict: 'safe', findings: [] }],
    failed: [],
    unknown: [],
    destructive: false,
  },
  migrate: {
    command: 'migrate',
    ok: true,
    backupId: 'bk-1',
    applied: ['0002_add_index'],
    restoreCommand: 'node dist/ops/main.js restore --backup bk-1 --force',
  },
} satisfies Record<string, Record<string, unknown>>

/** The line of a failed ops command. */
export const opsFailure = (command: string, error: string, details: Record<string, unknown> = {}) => ({
  command,
  ok: false,
  error,
  ...details,
})

/** `migration-status` with one pending destructive migration. */
export const destructiveStatus = (name: string, rule: string, statement: string) => ({
  ...OPS_LINES['migration-status'],
  applied: [],
  pending: [
    {
      migration: name,
      verdict: 'destructive',
      findings: [{ migration: name, rule, statement, message: `${rule} loses data` }],
    },
  ],
  destructive: true,
})
