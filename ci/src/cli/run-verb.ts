// What each verb of the table does. Targets and tools are composed here (create-target.ts); the AWS operator
// verbs are loaded only when chosen, so the local path never pays for the AWS SDK.
import type { AwsTargetOptions } from '../aws/target.js'
import { parseImageRef } from '../core/artifact-ref.js'
import { GateError } from '../core/gates.js'
import { backupAndVerify } from '../core/migration-flow.js'
import { newRunId, runPipeline } from '../core/pipeline.js'
import type { Report } from '../core/report.js'
import type { Artifact, RunContext, Target } from '../core/types.js'
import { type Invocation, UsageError } from './command-line.js'
import { createTarget, createTools, pipelineDirOf } from './create-target.js'
import { migrateThroughTarget } from './migrate-verb.js'
import { colorsFor, createProgress } from './progress.js'

export const EXIT = { succeeded: 0, failed: 1, usage: 2, rolled_back: 3 } as const

export interface CliIo {
  /** One result (a line or a block); a newline is added. */
  stdout(text: string): void
  stderr(text: string): void
  signal: AbortSignal
  /** Extra options of the AWS target (scripted clients and outputs in tests). */
  awsTargetOptions?: Partial<AwsTargetOptions>
}

function cliContext(target: Target, io: CliIo, quiet: boolean): RunContext {
  const c = colorsFor(process.stderr)
  return {
    runId: newRunId(),
    target: target.name,
    stack: target.stack,
    dryRun: false,
    signal: io.signal,
    log: {
      info: (line) => quiet || io.stderr(`  ${c.dim(line)}`),
      warn: (line) => io.stderr(`  ${c.yellow(line)}`),
    },
  }
}

function imageFlag(invocation: Invocation): string | undefined {
  const image = invocation.flags.image as string | undefined
  if (image === undefined) return undefined
  try {
    parseImageRef(image)
  } catch (error) {
    throw new UsageError((error as Error).message, invocation.verb)
  }
  return image
}

/** Runs one verb under the environment's deploy lock. */
async function withLock<T>(target: Target, ctx: RunContext, body: () => Promise<T>): Promise<T> {
  const lock = await target.acquireLock(ctx)
  try {
    return await body()
  } finally {
    await lock.release()
  }
}

async function deploy(invocation: Invocation, io: CliIo): Promise<number> {
  const image = imageFlag(invocation)
  const selection = { target: invocation.target, stack: invocation.stack }
  const target = await createTarget(selection)
  const tools = await createTools(selection)
  const progress = createProgress(process.stderr)
  let report: Report
  try {
    report = await runPipeline({
      target,
      tools,
      ...(image ? { image } : {}),
      dryRun: invocation.flags['dry-run'] === true,
      allowDestructive: invocation.flags['allow-destructive'] === true,
      skipLoad: invocation.flags['skip-load'] === true,
      load: invocation.flags.load === true,
      reportsDir: `${pipelineDirOf({})}/reports`,
      signal: io.signal,
      onEvent: progress.onEvent,
    })
  } finally {
    progress.stop()
  }
  if (invocation.json) io.stdout(JSON.stringify(report, null, 2))
  return EXIT[report.status]
}

async function migrate(invocation: Invocation, io: CliIo): Promise<number> {
  const image = imageFlag(invocation)
  const target = await createTarget({ target: invocation.target, stack: invocation.stack })
  const ctx = cliContext(target, io, invocation.json)
  const artifact = image ? await target.resolve!(image, ctx) : await target.current(ctx)
  if (!artifact) throw new Error('nothing is deployed and no --image given: no release to migrate with')
  const result = await withLock(target, ctx, () =>
    migrateThroughTarget(target, artifact, ctx, {
      allowDestructive: invocation.flags['allow-destructive'] === true,
      maxBackupAgeMinutes: Number(process.env.MIGRATE_MAX_BACKUP_AGE_MINUTES) || 30,
    }),
  )
  io.stdout(invocation.json ? JSON.stringify(result) : `${result.ok ? '✓' : '✗'} ${result.summary}`)
  return result.ok ? EXIT.succeeded : EXIT.failed
}

/** rollback, backup and restore on the local target. */
async function localOperation(invocation: Invocation, io: CliIo): Promise<number> {
  const target = await createTarget({ target: 'local', stack: invocation.stack })
  const ctx = cliContext(target, io, invocation.json)
  const print = (ok: boolean, line: string, result: unknown) => {
    io.stdout(invocation.json ? JSON.stringify(result) : `${ok ? '✓' : '✗'} ${line}`)
    return ok ? EXIT.succeeded : EXIT.failed
  }
  const serving = async (action: string): Promise<Artifact> => {
    const current = await target.current(ctx)
    if (!current) throw new Error(`nothing is deployed: no release to run the ${action} with`)
    return current
  }
  switch (invocation.verb) {
    case 'rollback': {
      const to =
        typeof invocation.flags.to === 'string' ? await target.resolve!(invocation.flags.to, ctx) : undefined
      const result = await withLock(target, ctx, () => target.rollback(ctx, to))
      return print(result.status !== 'failed', result.summary, result)
    }
    case 'backup': {
      const current = await serving('backup')
      return withLock(target, ctx, async () => {
        try {
          const verified = await backupAndVerify(target, current, ctx)
          return print(true, `backup ${verified.id} taken and verified`, {
            backup: verified.backup,
            verify: verified.verification,
          })
        } catch (error) {
          if (!(error instanceof GateError)) throw error
          return print(false, error.message, error.details)
        }
      })
    }
    case 'restore': {
      const current = await serving('restore')
      const backupId = invocation.flags.backup as string
      const restored = await withLock(target, ctx, () =>
        target.runOps({ name: 'restore', backupId, force: invocation.flags.force === true }, current, ctx),
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
      throw new Error(`${invocation.verb} is not a local operation`)
  }
}

/**
 * `local up`: starts what is stopped (PostgreSQL, Redis, proxy, supervisor, fake Graph API) and, when no
 * release serves, the one that served last (`local down` records it). Nothing is built.
 */
async function localUp(invocation: Invocation, io: CliIo): Promise<number> {
  const target = await createTarget({ target: 'local' })
  const ctx = cliContext(target, io, invocation.json)
  return withLock(target, ctx, async () => {
    await target.preflight(ctx)
    const provision = await target.provision(ctx)
    const before = await target.current(ctx)
    const started = before ? undefined : await target.rollback(ctx)
    const url = await target.baseUrl(ctx)
    const ok = started === undefined || started.status !== 'failed'
    const serving = before ?? (ok ? await target.current(ctx) : undefined)
    const line = ok
      ? `${provision.summary}; ${serving?.version ?? '?'} serves at ${url}`
      : `${provision.summary}; ${started?.summary} (npm run deploy builds and starts a release)`
    io.stdout(
      invocation.json
        ? JSON.stringify({ ok, provision: provision.summary, serving: serving ?? null, url })
        : `${ok ? '✓' : '✗'} ${line}`,
    )
    return ok ? EXIT.succeeded : EXIT.failed
  })
}

async function localEnvironment(invocation: Invocation, io: CliIo): Promise<number> {
  if (invocation.subcommand === 'up') return localUp(invocation, io)
  const { localDown, localStatus } = await import('../local/environment-admin.js')
  const stateDir = `${pipelineDirOf({})}/local`
  return invocation.subcommand === 'down'
    ? localDown(stateDir, invocation.json)
    : localStatus(stateDir, invocation.json)
}

async function drill(invocation: Invocation, io: CliIo): Promise<number> {
  const { renderDrillMarkdown, runDrill } = await import('../drill/drill.js')
  const report = await runDrill({ signal: io.signal, log: (line) => io.stderr(`  ${line}`) })
  io.stdout(invocation.json ? JSON.stringify(report, null, 2) : renderDrillMarkdown(report).trimEnd())
  return report.status === 'passed' ? EXIT.succeeded : EXIT.failed
}

async function awsOperation(invocation: Invocation, io: CliIo): Promise<number> {
  const { AWS_VERBS, runAwsVerb } = await import('../aws/verbs.js')
  const verb = AWS_VERBS.find((name) => name === invocation.verb)
  if (!verb) throw new Error(`${invocation.verb} is not an AWS operator verb`)
  return runAwsVerb({
    verb,
    stack: invocation.stack,
    json: invocation.json,
    flags: invocation.flags,
    stdout: io.stdout,
    stderr: io.stderr,
    signal: io.signal,
    ...(io.awsTargetOptions ? { targetOptions: io.awsTargetOptions } : {}),
  })
}

/** Runs one checked invocation; returns the exit code. */
export function runVerb(invocation: Invocation, io: CliIo): Promise<number> {
  switch (invocation.verb) {
    case 'deploy':
      return deploy(invocation, io)
    case 'migrate':
      return migrate(invocation, io)
    case 'local':
      return localEnvironment(invocation, io)
    case 'drill':
      return drill(invocation, io)
    case 'rollback':
    case 'backup':
    case 'restore':
      return invocation.target === 'aws' ? awsOperation(invocation, io) : localOperation(invocation, io)
    default:
      return awsOperation(invocation, io)
  }
}
