import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseImageRef } from '../core/artifact-ref.js'
import { opsArguments } from '../core/ops-command-line.js'
import type { Artifact, OpsCommand, OpsResult, ProvisionResult, RunContext, Target } from '../core/types.js'
import { type LocalContext, type LocalTargetOptions, localContext } from './context.js'
import { acquireFileLock } from './deploy-lock.js'
import { readState } from './environment-state.js'
import { secretValues } from './local-secrets.js'
import { offlineMigrationStatus } from './offline-migration-state.js'
import { runOpsProcess } from './ops-runner.js'
import { isAlive } from './pid-probe.js'
import { runLocalPreflight } from './preflight.js'
import { type LocalProcesses, localProcesses } from './processes.js'
import { replaceVersion } from './rollout.js'
import { type ServiceConfig, serviceConfig } from './service-config.js'
import type { LocalLayout } from './state-layout.js'
import type { Respawn } from './supervisor.js'

// The local deploy target, composed from its concerns: process supervision (processes.ts), secrets, seed and
// env file (service-config.ts), rollout (rollout.ts), preflight (preflight.ts).

export type { LocalTargetOptions } from './context.js'

export interface LocalTarget extends Target {
  readonly layout: LocalLayout
  /** Starts one process of a deployment again (the supervisor's restarts). */
  readonly respawn: Respawn
}

/** The local deploy target: PostgreSQL, Redis, the fake Graph API and replicas of the service behind one entry URL. */
export function createLocalTarget(options: LocalTargetOptions): LocalTarget {
  const local: LocalContext = localContext(options)
  const config: ServiceConfig = serviceConfig(local)
  const processes: LocalProcesses = localProcesses(local, config)
  const { layout, entryUrl } = local

  async function runOps(
    command: OpsCommand,
    artifact: Artifact,
    ctx: RunContext,
    extra: string[] = [],
    extraEnv: NodeJS.ProcessEnv = {},
  ): Promise<OpsResult> {
    const state = readState(layout.processes)
    if (!state.postgresPort || !processes.postgresRunning()) {
      if (command.name === 'migration-status' && ctx.dryRun)
        return offlineMigrationStatus(layout.postgres, local.releaseDir(artifact))
      throw new Error('the local database is not running: deploy (or provision) first')
    }
    mkdirSync(join(layout.root, 'tmp'), { recursive: true })
    return runOpsProcess({
      releaseDir: local.releaseDir(artifact),
      args: opsArguments(command, extra),
      env: {
        ...config.serviceEnv(state, artifact.version),
        MIGRATE_MAX_BACKUP_AGE_MINUTES: '30',
        ...extraEnv,
      },
      log: ctx.log,
      signal: ctx.signal,
    })
  }

  const target: LocalTarget = {
    name: 'local',
    stack: options.stack ?? 'local',
    layout,
    respawn: processes.respawn,

    async preflight() {
      return runLocalPreflight(options.repoRoot)
    },

    async acquireLock(ctx) {
      return acquireFileLock(layout.lock, ctx.runId)
    },

    async publish(artifact) {
      const record = local.store.publish(artifact)
      return { ref: record.ref, digest: record.digest, version: record.version }
    },

    async provision(ctx): Promise<ProvisionResult> {
      if (ctx.dryRun) {
        const state = readState(layout.processes)
        const changes = [
          processes.postgresRunning() ? null : `start PostgreSQL (data in ${layout.postgres})`,
          processes.redisRunning() ? null : `start Redis (data in ${layout.redis})`,
          processes.alive(state.proxy) ? null : `start the entry proxy on ${entryUrl}`,
          processes.alive(state.supervisor) ? null : 'start the supervisor',
          processes.alive(state.fakeGraph) ? null : 'start the fake Graph API',
        ].filter((c): c is string => c !== null)
        return {
          summary: changes.length ? `would ${changes.join(', ')}` : 'everything runs already',
          outputs: { baseUrl: entryUrl },
          changes,
        }
      }
      const state = await processes.startEnvironment(ctx)
      config.writeEnvFile(state)
      return {
        summary: `PostgreSQL :${state.postgresPort}, Redis :${state.redisPort}, entry ${entryUrl}${state.fakeGraph ? `, fake Graph :${state.fakeGraph.port}` : ''}`,
        outputs: {
          baseUrl: entryUrl,
          postgresPort: String(state.postgresPort),
          redisPort: String(state.redisPort),
          ...(state.fakeGraph ? { fakeGraphUrl: `http://127.0.0.1:${state.fakeGraph.port}` } : {}),
        },
      }
    },

    runOps: (command, artifact, ctx) => runOps(command, artifact, ctx),

    async rollout(artifact, ctx) {
      if (!local.store.find(artifact.digest))
        throw new Error(`${artifact.digest} is not published in the local registry`)
      // The first rollout seeds the demo organization while its replicas start: they need it only for the
      // warm-up's authenticated route (a key unknown to a replica's cache is read from the database).
      const seeded = config.ensureSeeded(artifact, ctx, runOps)
      return replaceVersion(local, config, processes, artifact, ctx, seeded)
    },

    async rollback(ctx, to) {
      const state = readState(layout.processes)
      const destination = to ?? state.previous
      if (!destination) return { status: 'failed', summary: 'no previous version to roll back to' }
      const record = local.store.find(destination.digest)
      if (!record) return { status: 'failed', summary: `${destination.digest} is not in the local registry` }
      // Same content can carry several versions (digest = content): roll back to the version that served.
      const result = await replaceVersion(
        local,
        config,
        processes,
        { ref: record.ref, digest: record.digest, version: destination.version },
        ctx,
      )
      // As on AWS: the rollback itself succeeding means the environment is rolled back.
      if (result.status !== 'succeeded') return { ...result, status: 'failed' }
      return {
        ...result,
        status: 'rolled_back',
        summary: `rolled back to ${destination.version}: ${result.summary}`,
      }
    },

    async current() {
      const serving = readState(layout.processes).serving
      return serving?.replicas.some((r) => isAlive(r.pid)) ? serving.artifact : undefined
    },

    async baseUrl() {
      return entryUrl
    },

    async resolve(image) {
      const { digest } = parseImageRef(image)
      const record = local.store.find(digest)
      if (!record) throw new Error(`${image} is not in the local registry (${layout.registry})`)
      return { ref: record.ref, digest: record.digest, version: record.version }
    },

    async environment() {
      return config.writeEnvFile(readState(layout.processes))
    },

    secretValues: () => secretValues(config.secrets()),
  }
  return target
}
