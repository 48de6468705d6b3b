import { join } from 'node:path'
import { opsOutcome } from '../core/ops-output.js'
import type { Artifact, OpsCommand, OpsResult, RunContext, ServiceEnvironment } from '../core/types.js'
import { DATABASE, DEMO_PHONE_NUMBER_ID, DEMO_WABA_ID, type LocalContext } from './context.js'
import { type EnvironmentState, readState } from './environment-state.js'
import { writeJson } from './json-file.js'
import {
  type LocalEndpoints,
  type LocalSecrets,
  loadOrCreateSecrets,
  saveSecrets,
  secretDocuments,
  secretEnvironment,
} from './local-secrets.js'

// The local environment's configuration: its secrets, the environment every process of the service gets,
// the demo organization it seeds and env.json (what smoke and load read).

export type RunOps = (
  command: OpsCommand,
  artifact: Artifact,
  ctx: RunContext,
  extra?: string[],
  extraEnv?: NodeJS.ProcessEnv,
) => Promise<OpsResult>

export interface ServiceConfig {
  secrets(): LocalSecrets
  endpoints(state: EnvironmentState): LocalEndpoints
  serviceEnv(state: EnvironmentState, version: string): NodeJS.ProcessEnv
  writeEnvFile(state: EnvironmentState): ServiceEnvironment
  /** Seeds the demo organization once per database and records its API key (env.json, secrets.json). */
  ensureSeeded(artifact: Artifact, ctx: RunContext, runOps: RunOps): Promise<void>
}

export function serviceConfig(local: LocalContext): ServiceConfig {
  const { layout } = local
  let cached: LocalSecrets | undefined
  const secrets = () => {
    cached ??= loadOrCreateSecrets(layout.secrets)
    return cached
  }

  const endpoints = (state: EnvironmentState): LocalEndpoints => {
    if (!state.postgresPort || !state.redisPort)
      throw new Error('PostgreSQL and Redis are not provisioned: run the provision stage first')
    return {
      postgresPort: state.postgresPort,
      redisPort: state.redisPort,
      database: DATABASE,
      caFile: join(layout.tls, 'ca.crt'),
    }
  }

  /**
   * The environment every process of the service gets, composed as the ECS task definition composes it:
   * the secrets by the same names from documents shaped like the Secrets Manager secrets, the rest as
   * plain values. Secrets only ever travel this way. The CA files are the local stand-ins for the RDS
   * bundle shipped in the image and for the public roots ElastiCache's certificate chains to.
   */
  const serviceEnv = (state: EnvironmentState, version: string): NodeJS.ProcessEnv => {
    const ends = endpoints(state)
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      ...secretEnvironment(secretDocuments(secrets(), ends)),
      DATABASE_CA_FILE: ends.caFile,
      REDIS_CA_FILE: ends.caFile,
      HOST: '127.0.0.1',
      APP_VERSION: version,
      LOG_LEVEL: process.env.LOCAL_LOG_LEVEL ?? 'info',
      GRAPH_API_BASE_URL: state.fakeGraph ? `http://127.0.0.1:${state.fakeGraph.port}` : 'http://127.0.0.1:9',
      SHUTDOWN_TIMEOUT_MS: String(Math.min(local.drainTimeoutMs, 25_000)),
      // Load runs go through one demo key: the per-key limit of production would turn them into 429s.
      RATE_LIMIT_PER_MINUTE: process.env.LOCAL_RATE_LIMIT_PER_MINUTE ?? '1000000',
      // Customer webhooks to a receiver on this machine (http, any port); AWS keeps https:443 and no loopback.
      CUSTOMER_WEBHOOK_ALLOW_LOOPBACK: 'true',
      CUSTOMER_WEBHOOK_REQUIRE_HTTPS: 'false',
      BACKUP_STORE: `file://${layout.backups}`,
      OPS_WORK_DIR: join(layout.root, 'tmp'),
    }
  }

  const writeEnvFile = (state: EnvironmentState): ServiceEnvironment => {
    const s = secrets()
    const env: ServiceEnvironment = {
      baseUrl: local.entryUrl,
      adminToken: s.adminToken,
      ...(s.apiKey ? { apiKey: s.apiKey } : {}),
      appSecret: s.appSecret,
      verifyToken: s.verifyToken,
      ...(state.fakeGraph ? { fakeGraphUrl: `http://127.0.0.1:${state.fakeGraph.port}` } : {}),
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
    }
    writeJson(layout.envFile, env, 0o600)
    return env
  }

  async function ensureSeeded(artifact: Artifact, ctx: RunContext, runOps: RunOps): Promise<void> {
    const s = secrets()
    if (s.apiKey) return
    const state = readState(layout.processes)
    const seeded = await runOps(
      { name: 'seed' },
      artifact,
      ctx,
      [
        '--phone-number-id',
        DEMO_PHONE_NUMBER_ID,
        '--waba-id',
        DEMO_WABA_ID,
        '--access-token-env',
        'FAKE_GRAPH_ACCESS_TOKEN',
      ],
      { FAKE_GRAPH_ACCESS_TOKEN: s.graphAccessToken },
    )
    // The core's strict reader: a line `seed` never prints throws instead of being half-read.
    const outcome = opsOutcome('seed', seeded)
    if (!outcome.ok) {
      ctx.log.warn(`seed did not run (${outcome.error}): env.json has no apiKey`)
      return
    }
    cached = { ...s, apiKey: outcome.report.apiKey }
    saveSecrets(layout.secrets, cached)
    writeEnvFile(state)
    ctx.log.info('demo organization seeded; its API key is in env.json')
  }

  return { secrets, endpoints, serviceEnv, writeEnvFile, ensureSeeded }
}
