import { parseArgs } from 'node:util'
import type { BackupStore } from './backup-store.js'
import { MissingBinaryError } from './binaries.js'
import { backupDatabase } from './commands/backup.js'
import { migrate } from './commands/migrate.js'
import { migrationStatus } from './commands/migration-status.js'
import { restoreBackup } from './commands/restore.js'
import { verifyBackup } from './commands/verify-backup.js'
import { type DatabaseTarget, describeDatabase, parseDatabaseUrl } from './database-target.js'
import { openBackupStore } from './open-backup-store.js'
import { OpsError } from './ops-errors.js'
import { type OpsSettings, readOpsSettings } from './ops-settings.js'
import { type OpsIo, OpsOutput } from './output.js'
import { DEFAULT_MIGRATIONS_DIR, DEFAULT_PRISMA_CONFIG } from './prisma-migrations.js'
import { secretsOfUrl } from './redaction.js'
import type { OpsFailureLine, OpsReports, OpsSuccessLine } from './reports.js'

export const COMMANDS = ['backup', 'verify-backup', 'restore', 'migrate', 'migration-status', 'seed'] as const
export type CommandName = (typeof COMMANDS)[number]

/** How operators are told to run a command again (restore hints); the image's entry point. */
export const OPS_ENTRY = 'node dist/ops/main.js'

const USAGE = `usage: ${OPS_ENTRY} <command> [flags]
  backup [--verify]
  verify-backup --backup <id|latest>
  restore --backup <id|latest> [--force]
  migrate [--max-backup-age <minutes>] [--allow-destructive]
  migration-status
  seed --phone-number-id <id> --waba-id <id> [--access-token-env <VAR>] [--display-phone-number <n>]
       [--organization-slug <slug>] [--organization-name <name>]
common flags: --prisma-config <file> --migrations-dir <dir> (migrate, migration-status)`

const FLAGS = {
  backup: { type: 'string' },
  verify: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  'max-backup-age': { type: 'string' },
  'allow-destructive': { type: 'boolean', default: false },
  'prisma-config': { type: 'string' },
  'migrations-dir': { type: 'string' },
  'phone-number-id': { type: 'string' },
  'waba-id': { type: 'string' },
  'access-token-env': { type: 'string', default: 'FAKE_GRAPH_ACCESS_TOKEN' },
  'display-phone-number': { type: 'string' },
  'organization-slug': { type: 'string' },
  'organization-name': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const

type Flags = ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true }>>['values']

interface CommandContext {
  flags: Flags
  settings: OpsSettings
  output: OpsOutput
  env: NodeJS.ProcessEnv
  target(): DatabaseTarget
  store(): BackupStore
}

// Each handler returns exactly its command's report (reports.ts): the line the pipeline parses strictly.
const handlers: { [C in CommandName]: (ctx: CommandContext) => Promise<OpsReports[C]> } = {
  async backup(ctx) {
    const manifest = await backupDatabase({ target: ctx.target(), store: ctx.store(), log: ctx.output })
    // `--verify` (the scheduled backup): a dump that does not restore must fail the run, so that the
    // task's exit code, and the alarm on it, say whether last night's backup is usable.
    let verified: Awaited<ReturnType<typeof verifyBackup>> | undefined
    if (ctx.flags.verify) {
      try {
        verified = await verifyBackup({
          target: ctx.target(),
          store: ctx.store(),
          log: ctx.output,
          backup: manifest.id,
          workDir: ctx.settings.workDir,
          jobs: ctx.settings.restoreJobs,
        })
      } catch (error) {
        const details = error instanceof OpsError ? error.details : {}
        throw new OpsError(
          `backup ${manifest.id} was written but its verification failed: ${oneLine(error)}`,
          { ...details, backupId: manifest.id, verified: false },
        )
      }
    }
    const report: OpsReports['backup'] = {
      backupId: manifest.id,
      store: ctx.store().location,
      sizeBytes: manifest.sizeBytes,
      sha256: manifest.sha256,
      tables: Object.keys(manifest.rowCounts).length,
      rows: Object.values(manifest.rowCounts).reduce((a, b) => a + b, 0),
      durationMs: manifest.durationMs,
      createdAt: manifest.createdAt,
      ...(verified
        ? {
            verified: true,
            verifiedAt: verified.verifiedAt,
            tablesCompared: verified.verification?.tablesCompared,
          }
        : {}),
    }
    return report
  },

  async 'verify-backup'(ctx) {
    const manifest = await verifyBackup({
      target: ctx.target(),
      store: ctx.store(),
      log: ctx.output,
      backup: ctx.flags.backup,
      workDir: ctx.settings.workDir,
      jobs: ctx.settings.restoreJobs,
    })
    return {
      backupId: manifest.id,
      verifiedAt: manifest.verifiedAt,
      checksumOk: true,
      tablesCompared: manifest.verification?.tablesCompared,
      durationMs: manifest.verification?.durationMs,
    }
  },

  async restore(ctx) {
    const outcome = await restoreBackup({
      target: ctx.target(),
      store: ctx.store(),
      log: ctx.output,
      backup: ctx.flags.backup,
      force: ctx.flags.force,
      workDir: ctx.settings.workDir,
      jobs: ctx.settings.restoreJobs,
    })
    return {
      backupId: outcome.manifest.id,
      database: describeDatabase(ctx.target()),
      replacedRelations: outcome.replacedRelations,
      rows: Object.values(outcome.manifest.rowCounts).reduce((a, b) => a + b, 0),
    }
  },

  async migrate(ctx) {
    const maxAge =
      ctx.flags['max-backup-age'] === undefined
        ? ctx.settings.migrateMaxBackupAgeMinutes
        : Number(ctx.flags['max-backup-age'])
    if (!Number.isFinite(maxAge) || maxAge <= 0)
      throw new OpsError('--max-backup-age must be a positive number')
    const outcome = await migrate({
      target: ctx.target(),
      store: ctx.store(),
      log: ctx.output,
      maxBackupAgeMinutes: maxAge,
      allowDestructive: ctx.flags['allow-destructive'],
      prismaConfig: ctx.flags['prisma-config'] ?? DEFAULT_PRISMA_CONFIG,
      migrationsDir: ctx.flags['migrations-dir'] ?? DEFAULT_MIGRATIONS_DIR,
      opsCommand: OPS_ENTRY,
    })
    return outcome
  },

  async 'migration-status'(ctx) {
    const report = await migrationStatus({
      target: ctx.target(),
      migrationsDir: ctx.flags['migrations-dir'] ?? DEFAULT_MIGRATIONS_DIR,
      log: ctx.output,
    })
    return report
  },

  async seed(ctx) {
    // Loaded on demand: the generated Prisma client is only needed by this command.
    const { seed } = await import('./commands/seed.js')
    ctx.output.addSecret(ctx.env[ctx.flags['access-token-env']])
    const seeded = await seed({
      target: ctx.target(),
      log: ctx.output,
      graphPhoneNumberId: ctx.flags['phone-number-id'],
      wabaId: ctx.flags['waba-id'],
      accessTokenEnv: ctx.flags['access-token-env'],
      displayPhoneNumber: ctx.flags['display-phone-number'],
      organizationSlug: ctx.flags['organization-slug'],
      organizationName: ctx.flags['organization-name'],
      env: ctx.env,
    })
    return seeded
  },
}

function isCommand(name: string | undefined): name is CommandName {
  return COMMANDS.includes(name as CommandName)
}

/**
 * Runs one ops command: human lines on stderr, exactly one JSON line on stdout
 * (`{ command, ok, ... }`), and the exit code (0 only on success). Never throws.
 */
export async function runOpsCli(argv: string[], env: NodeJS.ProcessEnv, io: OpsIo): Promise<number> {
  const output = new OpsOutput(
    io,
    [...secretsOfUrl(env.DATABASE_URL), env.ENCRYPTION_KEY ?? ''].filter(Boolean),
  )
  const name = argv[0]
  try {
    if (name === '--help' || name === '-h') {
      output.info(USAGE)
      output.result({ command: null, ok: true, commands: [...COMMANDS] })
      return 0
    }
    if (!isCommand(name)) {
      output.info(USAGE)
      throw new OpsError(name ? `unknown command "${name}"` : 'missing command')
    }
    let flags: Flags
    try {
      flags = parseArgs({ args: argv.slice(1), options: FLAGS, allowPositionals: false, strict: true }).values
    } catch (error) {
      throw new OpsError((error as Error).message)
    }
    if (flags.help) {
      output.info(USAGE)
      output.result({ command: name, ok: true, commands: [...COMMANDS] })
      return 0
    }
    const settings = readOpsSettings(env)
    let target: DatabaseTarget | undefined
    let store: BackupStore | undefined
    const ctx: CommandContext = {
      flags,
      settings,
      output,
      env,
      target: () => {
        target ??= parseDatabaseUrl(settings.databaseUrl, {
          ...(settings.databaseCaFile ? { caFile: settings.databaseCaFile } : {}),
          workDir: settings.workDir,
        })
        return target
      },
      store: () => {
        if (!settings.backupStore)
          throw new OpsError('BACKUP_STORE is not set (file:///abs/dir or s3://bucket/prefix)')
        store ??= openBackupStore({
          url: settings.backupStore,
          kmsKeyId: settings.backupKmsKeyId,
          region: settings.awsRegion,
          s3Endpoint: settings.backupS3Endpoint,
        })
        return store
      },
    }
    const result = await handlers[name](ctx)
    output.result({ command: name, ok: true, ...result } as OpsSuccessLine)
    return 0
  } catch (error) {
    const message = oneLine(error)
    output.info(`error: ${message}`)
    const details = error instanceof OpsError ? error.details : {}
    const line: OpsFailureLine = { command: name ?? null, ok: false, error: message, ...details }
    output.result(line)
    return 1
  }
}

function oneLine(error: unknown): string {
  if (error instanceof OpsError || error instanceof MissingBinaryError) return error.message
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/\s+/g, ' ').trim() || 'unknown error'
}
