import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parseImageRef } from '../core/artifact-ref.js'
import { newRunId, runPipeline } from '../core/pipeline.js'
import type { Report } from '../core/report.js'
import type { RunContext, Target } from '../core/types.js'
import { createTarget, createTools, pipelineDirOf } from './create-target.js'
import { migrateThroughTarget } from './migrate-verb.js'
import { colorsFor, createProgress } from './progress.js'

// `npm run deploy` and the operator verbs. Exit codes: 0 success, 1 failure, 2 usage error, 3 rolled back.

const USAGE = `usage: tsx ci/src/cli/main.ts <verb> [flags]
  deploy     [--target local|aws] [--stack <name>] [--image <ref@sha256:…>] [--dry-run] [--json]
             [--allow-destructive] [--skip-load] [--load]
             (--load: load-test where the target does not by default, e.g. production)
  rollback   [--to <ref@sha256:…>]        back to the previous version (or the given one)
  backup                                   back up the database and verify the backup
  restore    --backup <id|latest> [--force]
  migrate    [--target local|aws] [--stack <name>] [--image <ref@sha256:…>] [--allow-destructive]
             backup, verify, safety verdict, then migrate with that image (default: the serving one)
  local down | local status               stop the local environment / show what runs
  drill      [--json]                      fault drills on the local target under steady load (deploys first if not up)
  verify | costs | diagnose                AWS operator verbs (--stack staging|production)`

const EXIT = { succeeded: 0, failed: 1, usage: 2, rolled_back: 3 } as const

const FLAGS = {
  target: { type: 'string', default: 'local' },
  stack: { type: 'string' },
  image: { type: 'string' },
  to: { type: 'string' },
  backup: { type: 'string' },
  force: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  'allow-destructive': { type: 'boolean', default: false },
  'skip-load': { type: 'boolean', default: false },
  load: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

class UsageError extends Error {}

function parse(argv: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: FLAGS,
      allowPositionals: true,
      strict: true,
    })
    if (values.target !== 'local' && values.target !== 'aws')
      throw new UsageError(`--target must be local or aws (got "${values.target}")`)
    return { flags: values as typeof values & { target: 'local' | 'aws' }, positionals }
  } catch (error) {
    throw error instanceof UsageError ? error : new UsageError((error as Error).message)
  }
}

function cliContext(target: Target, signal: AbortSignal, quiet: boolean): RunContext {
  const c = colorsFor(process.stderr)
  return {
    runId: newRunId(),
    target: target.name,
    stack: target.stack,
    dryRun: false,
    signal,
    log: {
      info: (line) => quiet || process.stderr.write(`  ${c.dim(line)}\n`),
      warn: (line) => process.stderr.write(`  ${c.yellow(line)}\n`),
    },
  }
}

async function deploy(flags: ReturnType<typeof parse>['flags'], signal: AbortSignal): Promise<number> {
  if (flags.image) {
    try {
      parseImageRef(flags.image)
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
  }
  const selection = { target: flags.target, ...(flags.stack ? { stack: flags.stack } : {}) }
  const target = await createTarget(selection)
  const tools = await createTools(selection)
  const progress = createProgress(process.stderr)
  let report: Report
  try {
    report = await runPipeline({
      target,
      tools,
      ...(flags.image ? { image: flags.image } : {}),
      dryRun: flags['dry-run'],
      allowDestructive: flags['allow-destructive'],
      skipLoad: flags['skip-load'],
      load: flags.load,
      reportsDir: `${pipelineDirOf({})}/reports`,
      signal,
      onEvent: progress.onEvent,
    })
  } finally {
    progress.stop()
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  return EXIT[report.status]
}

/** Runs one local verb under the deploy lock. */
async function withLock<T>(target: Target, ctx: RunContext, body: () => Promise<T>): Promise<T> {
  const lock = await target.acquireLock(ctx)
  try {
    return await body()
  } finally {
    await lock.release()
  }
}

async function localVerb(
  verb: string,
  flags: ReturnType<typeof parse>['flags'],
  signal: AbortSignal,
): Promise<number> {
  const target = await createTarget({ target: 'local', ...(flags.stack ? { stack: flags.stack } : {}) })
  const ctx = cliContext(target, signal, flags.json)
  const print = (ok: boolean, line: string, result: unknown) => {
    if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`)
    else process.stdout.write(`${ok ? '✓' : '✗'} ${line}\n`)
    return ok ? EXIT.succeeded : EXIT.failed
  }
  switch (verb) {
    case 'rollback': {
      const to = flags.to ? await target.resolve!(flags.to, ctx) : undefined
      const result = await withLock(target, ctx, () => target.rollback(ctx, to))
      return print(result.status !== 'failed', result.summary, result)
    }
    case 'backup': {
      const current = await target.current(ctx)
      if (!current) return print(false, 'nothing is deployed: no release to run the backup with', {})
      return withLock(target, ctx, async () => {
        const backup = await target.runOps({ name: 'backup' }, current, ctx)
        const id = backup.result?.backupId
        if (backup.exitCode !== 0 || typeof id !== 'string')
          return print(false, `backup failed: ${backup.output.at(-1) ?? ''}`, backup.result)
        const verify = await target.runOps({ name: 'verify-backup', backupId: id }, current, ctx)
        return print(
          verify.exitCode === 0,
          verify.exitCode === 0 ? `backup ${id} taken and verified` : `backup ${id} failed verification`,
          { backup: backup.result, verify: verify.result },
        )
      })
    }
    case 'restore': {
      if (!flags.backup) throw new UsageError('restore needs --backup <id|latest>')
      const current = await target.current(ctx)
      if (!current) return print(false, 'nothing is deployed: no release to run the restore with', {})
      const backupId = flags.backup
      const restored = await withLock(target, ctx, () =>
        target.runOps({ name: 'restore', backupId, force: flags.force }, current, ctx),
      )
      return print(
        restored.exitCode === 0,
        restored.exitCode === 0
          ? `restored backup ${backupId}`
          : `restore failed: ${restored.output.at(-1) ?? ''}`,
        restored.result,
      )
    }
    default:
      throw new UsageError(`unknown verb "${verb}"`)
  }
}

async function migrateVerb(flags: ReturnType<typeof parse>['flags'], signal: AbortSignal): Promise<number> {
  const target = await createTarget({ target: flags.target, ...(flags.stack ? { stack: flags.stack } : {}) })
  const ctx = cliContext(target, signal, flags.json)
  const artifact = flags.image ? await target.resolve!(flags.image, ctx) : await target.current(ctx)
  if (!artifact) throw new Error('nothing is deployed and no --image given: no release to migrate with')
  const result = await withLock(target, ctx, () =>
    migrateThroughTarget(target, artifact, ctx, {
      allowDestructive: flags['allow-destructive'],
      maxBackupAgeMinutes: Number(process.env.MIGRATE_MAX_BACKUP_AGE_MINUTES) || 30,
    }),
  )
  if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`)
  else process.stdout.write(`${result.ok ? '✓' : '✗'} ${result.summary}\n`)
  return result.ok ? EXIT.succeeded : EXIT.failed
}

async function drillVerb(flags: ReturnType<typeof parse>['flags'], signal: AbortSignal): Promise<number> {
  if (flags.target !== 'local')
    throw new UsageError('the drill runs on the local target; on AWS it is a documented manual drill')
  const { renderDrillMarkdown, runDrill } = await import('../drill/drill.js')
  const report = await runDrill({ signal, log: (line) => process.stderr.write(`  ${line}\n`) })
  process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderDrillMarkdown(report))
  return report.status === 'passed' ? EXIT.succeeded : EXIT.failed
}

async function awsVerb(verb: string, argv: string[]): Promise<number> {
  // Loaded only for AWS verbs: the local path never pays for the AWS SDK.
  const { runAwsVerb } = await import('../aws/verbs.js')
  return runAwsVerb(verb, argv)
}

function targetsAws(argv: string[]): boolean {
  return argv.some((arg, i) => arg === '--target=aws' || (arg === '--target' && argv[i + 1] === 'aws'))
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv
  const controller = new AbortController()
  let interrupts = 0
  const onInterrupt = () => {
    interrupts++
    if (interrupts > 1) process.exit(130)
    process.stderr.write('\ninterrupted: stopping the current stage (Ctrl-C again to quit at once)\n')
    controller.abort(new Error('interrupted by the operator'))
  }
  process.on('SIGINT', onInterrupt)
  try {
    if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
      process.stdout.write(`${USAGE}\n`)
      return verb ? EXIT.succeeded : EXIT.usage
    }
    if (['verify', 'costs', 'diagnose'].includes(verb)) return await awsVerb(verb, rest)
    // On AWS, rollback/backup/restore have flags of their own (--manual, --snapshot, --point-in-time, ...):
    // the AWS verbs parse them, not the local flag table.
    if (['rollback', 'backup', 'restore'].includes(verb) && targetsAws(rest)) return await awsVerb(verb, rest)
    const { flags, positionals } = parse(rest)
    if (flags.help) {
      process.stdout.write(`${USAGE}\n`)
      return EXIT.succeeded
    }
    if (verb === 'deploy') return await deploy(flags, controller.signal)
    if (verb === 'local') {
      const { localDown, localStatus } = await import('../local/environment-admin.js')
      const stateDir = `${pipelineDirOf({})}/local`
      if (positionals[0] === 'down') return await localDown(stateDir, flags.json)
      if (positionals[0] === 'status') return await localStatus(stateDir, flags.json)
      throw new UsageError('local needs down or status')
    }
    if (verb === 'migrate') return await migrateVerb(flags, controller.signal)
    if (verb === 'drill') return await drillVerb(flags, controller.signal)
    if (['rollback', 'backup', 'restore'].includes(verb))
      return await localVerb(verb, flags, controller.signal)
    throw new UsageError(`unknown verb "${verb}"`)
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error)
    process.stderr.write(`error: ${message}\n`)
    if (error instanceof UsageError) {
      process.stderr.write(`${USAGE}\n`)
      return EXIT.usage
    }
    return EXIT.failed
  } finally {
    process.off('SIGINT', onInterrupt)
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2))
}
