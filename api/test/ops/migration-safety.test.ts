import { describe, expect, it } from 'vitest'
import { analyzeMigration, analyzeMigrations, type SafetyRule } from '../../src/ops/migration-safety.js'
import { DEFAULT_MIGRATIONS_DIR, readMigrationsDir } from '../../src/ops/prisma-migrations.js'

async function rulesOf(sql: string): Promise<SafetyRule[]> {
  const verdict = await analyzeMigration({ name: '20260101000000_test', sql })
  return verdict.findings.map((f) => f.rule)
}

// Each rule: a statement that must be flagged, and a close relative that must not.
const cases: { rule: SafetyRule; flagged: string; safe: string }[] = [
  { rule: 'drop-table', flagged: 'DROP TABLE "Message";', safe: 'DROP INDEX "Message_x_idx";' },
  {
    rule: 'drop-column',
    flagged: 'ALTER TABLE "Message" DROP COLUMN "body";',
    safe: 'ALTER TABLE "Message" DROP CONSTRAINT "Message_fkey";',
  },
  {
    rule: 'column-type-change',
    flagged: 'ALTER TABLE "Message" ALTER COLUMN "body" SET DATA TYPE VARCHAR(10);',
    safe: 'ALTER TABLE "Message" ALTER COLUMN "body" SET DEFAULT \'\';',
  },
  {
    rule: 'not-null-without-default',
    flagged: 'ALTER TABLE "Message" ADD COLUMN "tenantId" TEXT NOT NULL;',
    safe: 'ALTER TABLE "Message" ADD COLUMN "tenantId" TEXT NOT NULL DEFAULT \'none\';',
  },
  {
    rule: 'non-concurrent-index',
    flagged: 'CREATE INDEX "Message_status_idx" ON "Message"("status");',
    safe: 'CREATE INDEX CONCURRENTLY "Message_status_idx" ON "Message"("status");',
  },
  {
    rule: 'rename-table',
    flagged: 'ALTER TABLE "Message" RENAME TO "Msg";',
    safe: 'ALTER INDEX "Message_pkey" RENAME TO "Msg_pkey";',
  },
  {
    rule: 'rename-column',
    flagged: 'ALTER TABLE "Message" RENAME COLUMN "body" TO "text";',
    safe: 'ALTER TABLE "Message" RENAME CONSTRAINT "a" TO "b";',
  },
  { rule: 'truncate', flagged: 'TRUNCATE "Message";', safe: 'SELECT count(*) FROM "Message";' },
  {
    rule: 'delete-without-where',
    flagged: 'DELETE FROM "Message";',
    safe: 'DELETE FROM "Message" WHERE "status" = \'failed\';',
  },
]

describe('migration safety analyzer', () => {
  for (const { rule, flagged, safe } of cases) {
    it(`flags ${rule}`, async () => {
      expect(await rulesOf(flagged)).toEqual([rule])
    })
    it(`does not flag the safe relative of ${rule}`, async () => {
      expect(await rulesOf(safe)).toEqual([])
    })
  }

  it('flags SET NOT NULL on an existing column and accepts serial/identity columns', async () => {
    expect(await rulesOf('ALTER TABLE "Message" ALTER COLUMN "body" SET NOT NULL;')).toEqual([
      'not-null-without-default',
    ])
    expect(await rulesOf('ALTER TABLE "Message" ADD COLUMN "seq" BIGSERIAL NOT NULL;')).toEqual([])
    expect(
      await rulesOf('ALTER TABLE "Message" ADD COLUMN "n" INT NOT NULL GENERATED ALWAYS AS IDENTITY;'),
    ).toEqual([])
  })

  it('judges changes to a table created in the same migration as safe', async () => {
    const sql = `
      -- CreateTable
      CREATE TABLE "Outbox" ("id" TEXT NOT NULL, "x" INT, CONSTRAINT "Outbox_pkey" PRIMARY KEY ("id"));
      -- CreateIndex
      CREATE INDEX "Outbox_x_idx" ON "Outbox"("x");
      ALTER TABLE "Outbox" ADD COLUMN "y" TEXT NOT NULL;
    `
    const verdict = await analyzeMigration({ name: 'm1', sql })
    expect(verdict).toEqual({ migration: 'm1', verdict: 'safe', findings: [] })
  })

  it('reports every finding of a multi-command ALTER TABLE with its statement and migration', async () => {
    const sql = `-- AlterTable
ALTER TABLE "Contact" DROP COLUMN "nickname", ALTER COLUMN "phone" SET DATA TYPE BIGINT;
-- café: a comment with non-ASCII characters before the next statement
CREATE UNIQUE INDEX "Contact_phone_key" ON "Contact"("phone");`
    const verdict = await analyzeMigration({ name: '20260102000000_contact', sql })
    expect(verdict.verdict).toBe('destructive')
    expect(verdict.findings.map((f) => [f.rule, f.migration])).toEqual([
      ['drop-column', '20260102000000_contact'],
      ['column-type-change', '20260102000000_contact'],
      ['non-concurrent-index', '20260102000000_contact'],
    ])
    expect(verdict.findings[0]?.statement).toBe(
      'ALTER TABLE "Contact" DROP COLUMN "nickname", ALTER COLUMN "phone" SET DATA TYPE BIGINT',
    )
    expect(verdict.findings[2]?.statement).toBe(
      'CREATE UNIQUE INDEX "Contact_phone_key" ON "Contact"("phone")',
    )
  })

  it('does not mistake SQL inside strings or comments for statements', async () => {
    const sql = `-- DROP TABLE "Message";
INSERT INTO "AuditLog" ("note") VALUES ('TRUNCATE "Message"; DELETE FROM "Message"');`
    expect(await rulesOf(sql)).toEqual([])
  })

  it('treats SQL it cannot parse as destructive', async () => {
    const verdict = await analyzeMigration({ name: 'broken', sql: 'ALTER TABLE "x" FROBNICATE;' })
    expect(verdict.verdict).toBe('destructive')
    expect(verdict.findings[0]?.rule).toBe('unparseable')
  })

  it('judges every shipped migration safe, so deploys need no --allow-destructive', async () => {
    const verdicts = await analyzeMigrations(await readMigrationsDir(DEFAULT_MIGRATIONS_DIR))
    expect(verdicts.map((v) => v.migration)).toContain('20261129010000_pg_stat_statements')
    expect(verdicts.filter((v) => v.verdict !== 'safe')).toEqual([])
  })
})
