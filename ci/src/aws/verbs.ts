// The AWS operator verbs: verify, costs, diagnose, backup, restore, rollback, failover, restart,
// switch-database. The CLI (ci/src/cli) parses and checks the command line from its verb table and calls
// runAwsVerb with the flags; each returns the process exit code: 0 success, 1 a failed check or operation.
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
import { AwsTargetError, describeAwsError } from './errors.js'
import { failoverCache, failoverDatabase } from './failover.js'
import { callerAccount } from './preflight.js'
import { restartServices } from './rollout.js'
import { readOutputsFile } from './stack-outputs.js'
import { type AwsTarget, type AwsTargetOptions, createAwsTarget } from './target.js'
import { verifyStack } from './verify.js'

export const AWS_VERBS = [
  'verify',
  'diagnose',
  'costs',
  'backup',
  'restore',
  'rollback',
  'failover',
  'restart',
  'switch-database',
] as const

export type AwsVerb = (typeof AWS_VERBS)[number]

/** One checked invocation: the CLI has already refused bad usage (exactly-one groups, values). */
export interface AwsVerbRequest {
  verb: AwsVerb
  stack: string
  json: boolean
  flags: Readonly<Record<string, string | boolean | undefined>>
  stdout(text: string): void
  stderr(text: string): void
  signal: AbortSignal
  /** Extra target options (scripted clients in tests). */
  targetOptions?: Partial<AwsTargetOptions>
}

function verbContext(request: AwsVerbRequest): RunContext {
  const { verb, stack, stderr } = request
  return {
    runId: `${verb}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`,
    target: 'aws',
    stack,
    dryRun: request.flags['dry-run'] === true,
    signal: request.signal,
    log: { info: (line) => stderr(line), warn: (line) => stderr(`warning: ${line}`) },
  }
}

async function openTarget(request: AwsVerbRequest): Promise<AwsTarget> {
  const file = (request.flags.outputs as string | undefined) ?? process.env.AWS_STACK_OUTPUTS_FILE
  const outputs = file ? await readOutputsFile(file) : undefined
  if (file && !outputs) throw new AwsTargetError(`--outputs ${file}: file not found`)
  return createAwsTarget({
    stack: request.stack,
    region: request.flags.region as string | undefined,
    outputs,
    ...request.targetOptions,
  })
}

/**
 * Runs one AWS operator verb. A failure is thrown as one Error whose message an operator can act on
 * (credentials, throttling, permissions are classified by describeAwsError).
 */
export async function runAwsVerb(request: AwsVerbRequest): Promise<number> {
  try {
    return await dispatch(request)
  } catch (error) {
    throw new Error(describeAwsError(error), { cause: error })
  }
}

async function dispatch(request: AwsVerbRequest): Promise<number> {
  const { verb, stack, flags } = request
  const print = (value: unknown, text: string) =>
    request.stdout(request.json ? JSON.stringify(value, null, 2) : text)
  const pointInTime =
    typeof flags['point-in-time'] === 'string'
      ? flags['point-in-time'] === 'latest'
        ? ('latest' as const)
        : new Date(flags['point-in-time'])
      : undefined

  const target = await openTarget(request)
  const ctx = verbContext(request)
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
