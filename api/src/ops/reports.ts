// The final JSON line of each ops command, as printed on stdout (`runOpsCli`): the contract the pipeline
// parses (ci/src/core/ops-output.ts holds a strict parser typed from these). Types only. A value left
// undefined is absent from the line (JSON.stringify drops it), hence the optional keys.
import type { SafetyRule } from './migration-safety.js'

/** `backup [--verify]` */
export interface BackupReport {
  backupId: string
  /** `file:///…` or `s3://bucket/prefix`. */
  store: string
  sizeBytes: number
  sha256: string
  tables: number
  rows: number
  durationMs: number
  createdAt: string
  /** With `--verify` only. */
  verified?: true
  verifiedAt?: string | null
  tablesCompared?: number
}

/** `verify-backup --backup <id|latest>` */
export interface VerifyBackupReport {
  backupId: string
  verifiedAt: string | null
  checksumOk: true
  tablesCompared?: number
  durationMs?: number
}

/** `restore --backup <id|latest> [--force]` */
export interface RestoreReport {
  backupId: string
  /** `name on host:port`, never credentials. */
  database: string
  replacedRelations: number
  rows: number
}

/** `migrate [--max-backup-age <min>] [--allow-destructive]` */
export interface MigrateReport {
  backupId: string
  applied: string[]
  restoreCommand: string
}

export interface SafetyFindingReport {
  migration: string
  rule: SafetyRule
  statement: string
  message: string
}

export interface MigrationVerdictReport {
  migration: string
  verdict: 'safe' | 'destructive'
  findings: SafetyFindingReport[]
}

/** `migration-status` */
export interface MigrationStatusReport {
  applied: string[]
  pending: MigrationVerdictReport[]
  failed: string[]
  unknown: string[]
  destructive: boolean
}

/** `seed` (the API key appears only here). */
export interface SeedReport {
  organizationId: string
  apiKey: string
  apiKeyId: string
  phoneNumberId: string
  graphPhoneNumberId: string
}

export interface OpsReports {
  backup: BackupReport
  'verify-backup': VerifyBackupReport
  restore: RestoreReport
  migrate: MigrateReport
  'migration-status': MigrationStatusReport
  seed: SeedReport
}

export type OpsCommandName = keyof OpsReports

export interface RowCountDifference {
  table: string
  expected: number | null
  actual: number | null
}

/** What a refusal or failure adds to its line (`OpsError.details`), by the command that may print it. */
export interface OpsFailureDetails {
  /** backup, migrate: the backup concerned. */
  backupId?: string
  /** backup --verify: written but not verified. */
  verified?: false
  /** verify-backup, restore: the dump's checksum did not match. */
  checksumOk?: false
  /** verify-backup, restore: row counts that differ from the manifest. */
  differences?: RowCountDifference[]
  /** restore without --force: relations found in the database. */
  relations?: number
  /** migrate: how to restore the backup after a failed migration. */
  restoreCommand?: string
  /** migrate: the pending migrations a failed deploy left unapplied, and those Prisma records as failed. */
  notApplied?: string[]
  failed?: string[]
  /** migrate: the destructive pending migrations it refused. */
  destructive?: string[]
}

/** The line of a command that succeeded. */
export type OpsSuccessLine<C extends OpsCommandName = OpsCommandName> = {
  [K in C]: { command: K; ok: true } & OpsReports[K]
}[C]

/** The line of a command that failed (or was refused); `command` is null when none was given. */
export type OpsFailureLine = { command: string | null; ok: false; error: string } & OpsFailureDetails

export type OpsLine<C extends OpsCommandName = OpsCommandName> = OpsSuccessLine<C> | OpsFailureLine
