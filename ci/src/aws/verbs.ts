// Operator verbs on an AWS stack, dispatched here by the CLI: verify, costs, diagnose, backup, restore,
// rollback. Each returns the process exit code: 0 success, 1 a failed check or operation, 2 bad usage.
import { parseArgs } from 'node:util'
import type { RunContext } from '../core/types.js'
import { renderChecklist } from './checklist.js'
import { costReport, renderCostReport } from './cost-report.js'
import {
  listBackups,
  manualBackup,
  restoreBackup,
  restoreDatabaseInstance,
  snapshotDatabase,
  switchDatabase,
} from './database-verbs.js'
import { diagnoseStack, renderFindings } from './diagnose.js'
import { describeAwsError } from './errors.js'
import { failoverCache, failoverDatabase } from './failover.js'
import { callerAccount } from './preflight.js'
import { restartServices } from './rollout.js'
import { readOutputsFile } from './stack-outputs.js'
import { type AwsTarget, type AwsTargetOptions, createAwsTarget } from './target.js'
import { verifyStack } from './verify.js'

export interface VerbIo {
  stdout(text: string): void
  stderr(text: string): void
  /** Extra target options (scripted clients in tests). */
  targetOptions?: Partial<AwsTargetOptions>
  /** Interrupts the verb (the CLI wires Ctrl-C to it by default). */
  signal?: AbortSignal
}

const COMMON = {
  stack: { type: 'string', default: 'staging' },
  target: { type: 'string' },
  json: { type: 'boolean', default: false },
  outputs: { type: 'string' },
  region: { type: 'string' },
} as const

const VERB_OPTIONS = {
  verify: {},
  diagnose: {},
  costs: {
    detailed: { type: 'boolean', default: false },
    forecast: { type: 'boolean', default: false },
    recommend: { type: 'boolean', default: false },
  },
  backup: {
    manual: { type: 'boolean', default: false },
    snapshot: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
  },
  restore: {
    backup: { type: 'string' },
    snapshot: { type: 'string' },
    'point-in-time': { type: 'string' },
    force: { type: 'boolean', default: false },
  },
  rollback: { to: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
  failover: { database: { type: 'boolean', default: false }, redis: { type: 'boolean', default: false } },
  restart: {},
  'switch-database': { instance: { type: 'string' } },
} as const

export const AWS_VERBS = Object.keys(VERB_OPTIONS) as (keyof typeof VERB_OPTIONS)[]

export const AWS_VERB_USAGE = `AWS verbs (all take --stack <name> (default staging), --json, --outputs <file>, --region <r>):
  verify                                  checklist of the deployed stack against its design
  costs [--detailed] [--forecast] [--recommend]
  diagnose                                stopped tasks, events, unhealthy targets, alarms, connections
  backup --manual | --snapshot | --list   verified dump through the image, an RDS snapshot, or the dumps kept
  restore --backup <id> [--force] | --snapshot <id> | --point-in-time <iso|latest>
  rollback [--to <ref@sha256:digest>] [--dry-run]
  failover --database | --redis           Multi-AZ failover to the standby / replica, waited
  restart                                 new tasks on the same revisions (they re-read secrets), followed
  switch-database --instance <restored>   the restored instance takes the serving identifier; services restarted`

class UsageError extends Error {}

function verbContext(
  verb: string,
  stack: string,
  io: VerbIo,
  signal: AbortSignal,
  dryRun = false,
): RunContext {
  return {
    runId: `${verb}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`,
    target: 'aws',
    stack,
    dryRun,
    signal,
    log: { info: (line) => io.stderr(line), warn: (line) => io.stderr(`warning: ${line}`) },
  }
}

async function openTarget(values: Record<string, unknown>, io: VerbIo): Promise<AwsTarget> {
  const file = (values.outputs as string | undefined) ?? process.env.AWS_STACK_OUTPUTS_FILE
  const outputs = file ? await readOutputsFile(file) : undefined
  if (file && !outputs) throw new UsageError(`--outputs ${file}: file not found`)
  return createAwsTarget({
    stack: values.stack as string,
    region: values.region as string | undefined,
    outputs,
    ...io.targetOptions,
  })
}

async function dispatch(
  verb: keyof typeof VERB_OPTIONS,
  argv: string[],
  io: VerbIo,
  signal: AbortSignal,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...COMMON, ...VERB_OPTIONS[verb] },
    strict: true,
    allowPositionals: false,
  })
  const flags = values as Record<string, unknown>
  if (flags.target !== undefined && flags.target !== 'aws')
    throw new UsageError(`${verb} runs against --target aws only`)
  const stack = flags.stack as string
  const json = flags.json === true
  const print = (value: unknown, text: string) => io.stdout(json ? JSON.stringify(value, null, 2) : text)

  // Usage is checked before anything talks to AWS.
  if (verb === 'backup' && [flags.manual, flags.snapshot, flags.list].filter(Boolean).length !== 1) {
    throw new UsageError('backup needs exactly one of --manual, --snapshot, --list')
  }
  if (
    verb === 'restore' &&
    [flags.backup, flags.snapshot, flags['point-in-time']].filter(Boolean).length !== 1
  ) {
    throw new UsageError(
      'restore needs exactly one of --backup <id>, --snapshot <id>, --point-in-time <iso|latest>',
    )
  }
  if (verb === 'failover' && flags.database === flags.redis) {
    throw new UsageError('failover needs exactly one of --database, --redis')
  }
  if (verb === 'switch-database' && typeof flags.instance !== 'string') {
    throw new UsageError('switch-database needs --instance <restored instance id>')
  }
  let pointInTime: Date | 'latest' | undefined
  if (verb === 'restore' && typeof flags['point-in-time'] === 'string') {
    pointInTime = flags['point-in-time'] === 'latest' ? 'latest' : new Date(flags['point-in-time'])
    if (pointInTime !== 'latest' && Number.isNaN(pointInTime.getTime())) {
      throw new UsageError(`--point-in-time must be an ISO time or "latest" (got ${flags['point-in-time']})`)
    }
  }

  const target = await openTarget(flags, io)
  const ctx = verbContext(verb, stack, io, signal, flags['dry-run'] === true)
  // Missing or expired credentials are one clear error up front, not a failure in every check.
  await callerAccount(target.runtime)
  const outputs = await target.stackOutputs(ctx)
  switch (verb) {
    case 'verify': {
      const checks = await verifyStack(target.runtime, outputs, stack)
      const passed = checks.every((check) => check.ok)
      print({ stack, passed, checks }, renderChecklist(`verify ${stack}`, checks))
      return passed ? 0 : 1
    }
    case 'diagnose': {
      const findings = await diagnoseStack(target.runtime, outputs, stack)
      print({ stack, findings }, renderFindings(stack, findings))
      return findings.some((finding) => finding.severity === 'error') ? 1 : 0
    }
    case 'costs': {
      const report = await costReport(target.runtime, outputs, {
        detailed: flags.detailed === true,
        forecast: flags.forecast === true,
        recommend: flags.recommend === true,
      })
      print({ stack, ...report }, renderCostReport(report))
      return 0
    }
    case 'backup': {
      if (flags.list) {
        const backups = await listBackups(target.runtime, outputs)
        print(
          { backups },
          backups.length === 0
            ? `no backups in ${outputs.backupStore}/`
            : backups.map((backup) => `${backup.id}  ${backup.at}`).join('\n'),
        )
      } else if (flags.manual) {
        const result = await manualBackup(target, ctx)
        print(result, `backup ${result.backupId} taken and verified`)
      } else {
        const result = await snapshotDatabase(target.runtime, outputs, ctx)
        print(result, `snapshot ${result.snapshotId} available`)
      }
      return 0
    }
    case 'restore': {
      if (typeof flags.backup === 'string') {
        const result = await restoreBackup(target, flags.backup, flags.force === true, ctx)
        print(
          result,
          `restored backup ${result.restored}${result.safetyBackupId ? ` (the previous data is in backup ${result.safetyBackupId})` : ''}`,
        )
        return 0
      }
      const from =
        typeof flags.snapshot === 'string' ? { snapshotId: flags.snapshot } : { pointInTime: pointInTime! }
      const restored = await restoreDatabaseInstance(target.runtime, outputs, from, ctx)
      print(
        restored,
        [
          `restored ${restored.source} into NEW instance ${restored.instanceId} (${restored.endpoint})`,
          'the serving instance is untouched; to switch, follow docs/runbooks/disaster-recovery.md ("Switch to a restored instance")',
        ].join('\n'),
      )
      return 0
    }
    case 'failover': {
      const result = flags.database
        ? await failoverDatabase(target.runtime, outputs, ctx)
        : await failoverCache(target.runtime, outputs, ctx)
      print(result, `failover of ${result.resource} done; run verify next`)
      return 0
    }
    case 'switch-database': {
      const switched = await switchDatabase(target.runtime, outputs, flags.instance as string, ctx)
      const restarted = await restartServices(target.runtime, outputs, ctx)
      print(
        { ...switched, restart: restarted.status },
        `${switched.replacedBy} now serves as ${switched.serving}; the previous instance is kept as ${switched.keptAs}; restart ${restarted.status}`,
      )
      return restarted.status === 'succeeded' ? 0 : 1
    }
    case 'restart': {
      const result = await restartServices(target.runtime, outputs, ctx)
      print(result, `restart ${result.status}: ${result.summary}`)
      return result.status === 'succeeded' ? 0 : 1
    }
    case 'rollback': {
      const to = typeof flags.to === 'string' ? await target.resolve!(flags.to, ctx) : undefined
      // The same lock as a deploy: a rollback racing a rollout would leave either half done.
      const lock = ctx.dryRun ? undefined : await target.acquireLock(ctx)
      try {
        const result = await target.rollback(ctx, to)
        print(result, `rollback ${result.status}: ${result.summary}`)
        return result.status === 'failed' ? 1 : 0
      } finally {
        await lock?.release()
      }
    }
  }
}

/** Runs one AWS operator verb; never throws: errors become one line on stderr and exit code 1 (2 for usage). */
export async function runAwsVerb(verb: string, argv: string[], io?: VerbIo): Promise<number> {
  const streams: VerbIo = io ?? {
    stdout: (text) => process.stdout.write(`${text}\n`),
    stderr: (text) => process.stderr.write(`${text}\n`),
  }
  if (!(AWS_VERBS as string[]).includes(verb)) {
    streams.stderr(`unknown AWS verb "${verb}"\n${AWS_VERB_USAGE}`)
    return 2
  }
  const controller = new AbortController()
  const interrupt = () => controller.abort(new Error('interrupted (Ctrl-C)'))
  const signal = streams.signal ?? controller.signal
  if (!streams.signal) process.once('SIGINT', interrupt)
  try {
    return await dispatch(verb as keyof typeof VERB_OPTIONS, argv, streams, signal)
  } catch (error) {
    const usage =
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    streams.stderr(`${verb}: ${usage ? (error as Error).message : describeAwsError(error)}`)
    if (usage) streams.stderr(AWS_VERB_USAGE)
    return usage ? 2 : 1
  } finally {
    process.removeListener('SIGINT', interrupt)
  }
}
