// The local environment inside the engine: PostgreSQL and Redis as service containers, and one app
// container running the API, its worker and the fake WhatsApp Graph API from the service image. The
// API calls the fake Graph API and the fake sends signed webhooks back to the API: Dagger service
// bindings cannot be circular, so the three share the app container and talk over its loopback.
// Same shape as the CLI's embedded local target (docs/design.md): the smoke suite and k6 run unchanged.
import { API_PORT, FAKE_GRAPH_PORT, SERVICE_HOSTS } from './images.js'

/** The secrets the service needs; generated per environment, passed only as Dagger secrets. */
export const SERVICE_SECRET_NAMES = [
  'ADMIN_TOKEN',
  'META_APP_SECRET',
  'META_VERIFY_TOKEN',
  'ENCRYPTION_KEY',
] as const
export type ServiceSecretName = (typeof SERVICE_SECRET_NAMES)[number]

/** All secrets of a local environment: the service's, plus the Graph access token of the demo number
 * (the fake Graph API accepts only this one; the seed stores it encrypted with the number). */
export const LOCAL_SECRET_NAMES = [...SERVICE_SECRET_NAMES, 'FAKE_GRAPH_ACCESS_TOKEN'] as const
export type LocalSecretName = (typeof LOCAL_SECRET_NAMES)[number]

export const LOCAL_DATABASE = 'whatsapp_saas'

/** The demo number, the same ids the CLI's local target seeds (ci/src/local/target.ts). */
export const DEMO_NUMBER = { phoneNumberId: '100000000000001', wabaId: '200000000000001' } as const

/** URLs as seen from containers bound to the environment (toolbox, k6). */
export const LOCAL_URLS = {
  // Trust authentication inside the engine's private network only; no password exists to leak.
  database: `postgresql://postgres@${SERVICE_HOSTS.postgres}:5432/${LOCAL_DATABASE}`,
  redis: `redis://${SERVICE_HOSTS.redis}:6379`,
  api: `http://${SERVICE_HOSTS.api}:${API_PORT}`,
  fakeGraph: `http://${SERVICE_HOSTS.api}:${FAKE_GRAPH_PORT}`,
} as const

/** Plain (non-secret) env of the app and ops containers of the local environment. */
export function serviceEnvironment(version: string): Record<string, string> {
  return {
    DATABASE_URL: LOCAL_URLS.database,
    REDIS_URL: LOCAL_URLS.redis,
    HOST: '0.0.0.0',
    PORT: String(API_PORT),
    APP_VERSION: version,
    LOG_LEVEL: 'info',
    // Inside the app container the fake Graph API is on loopback.
    GRAPH_API_BASE_URL: `http://127.0.0.1:${FAKE_GRAPH_PORT}`,
    // Writable by the image's non-root user; lives as long as the container that runs the ops commands.
    BACKUP_STORE: 'file:///tmp/whatsapp-saas-backups',
    MIGRATE_MAX_BACKUP_AGE_MINUTES: '30',
  }
}

/** Plain env of the fake Graph API: listens for the toolbox and k6 too, signs webhooks to the API. */
export function fakeGraphEnvironment(): Record<string, string> {
  return {
    FAKE_GRAPH_HOST: '0.0.0.0',
    FAKE_GRAPH_PORT: String(FAKE_GRAPH_PORT),
    FAKE_GRAPH_WEBHOOK_URL: `http://127.0.0.1:${API_PORT}/webhooks/whatsapp`,
    FAKE_GRAPH_WABA_ID: DEMO_NUMBER.wabaId,
  }
}

/**
 * Start command of the app container: the fake Graph API and the worker in the background, then the
 * API in the foreground (its exit ends the container). With `migrate`, the ops sequence runs first and
 * nothing starts unless it succeeds.
 */
export function appCommand(migrate: boolean): string[] {
  const start = 'node dist/fake-graph/main.js & node dist/worker.js & exec node dist/server.js'
  return ['sh', '-c', migrate ? `${migrateScript()} && { ${start}; }` : start]
}

/** The ops `seed` command (run with tsx in the toolbox): demo organization, number and a fresh API key. */
export function seedCommand(): string[] {
  return [
    'npx',
    '--no-install',
    'tsx',
    'api/src/ops/main.ts',
    'seed',
    '--phone-number-id',
    DEMO_NUMBER.phoneNumberId,
    '--waba-id',
    DEMO_NUMBER.wabaId,
    '--access-token-env',
    'FAKE_GRAPH_ACCESS_TOKEN',
  ]
}

/**
 * The ops sequence the pipeline's safety rules demand before a migration: a fresh backup, verified by
 * a restore into a scratch database, then the migration itself (which refuses without that backup).
 */
export const MIGRATE_SEQUENCE = [
  ['node', 'dist/ops/main.js', 'backup'],
  ['node', 'dist/ops/main.js', 'verify-backup', '--backup', 'latest'],
  ['node', 'dist/ops/main.js', 'migrate'],
] as const

export function migrateScript(): string {
  return MIGRATE_SEQUENCE.map((argv) => argv.join(' ')).join(' && ')
}

/** Where the seeded environment's description is written inside the toolbox container. */
export const ENV_FILES = {
  /** Last JSON line of the ops `seed` command: `{ command, ok, apiKey, ... }`. */
  seed: '/run/local-env/seed.json',
  /** Same keys as `.pipeline/local/env.json`; read by the smoke suite (`--env-file`). */
  envJson: '/run/local-env/env.json',
  /** `export NAME='value'` lines for the k6 scripts' inputs. */
  k6Exports: '/run/local-env/k6.env',
} as const

/**
 * A node program (run with `node -e` inside the toolbox, where the secrets are env variables) that turns
 * the seed output and the service secrets into the env files above. Values never reach the module's
 * memory or any log; files are written with mode 0600.
 */
export function envFilesProgram(files: Record<keyof typeof ENV_FILES, string> = ENV_FILES): string {
  return `
const fs = require('fs')
const e = process.env
const seed = JSON.parse(fs.readFileSync(${JSON.stringify(files.seed)}, 'utf8'))
if (seed.ok === false || typeof seed.apiKey !== 'string') throw new Error('seed output has no apiKey')
const env = {
  baseUrl: ${JSON.stringify(LOCAL_URLS.api)},
  adminToken: e.ADMIN_TOKEN,
  apiKey: seed.apiKey,
  appSecret: e.META_APP_SECRET,
  verifyToken: e.META_VERIFY_TOKEN,
  fakeGraphUrl: ${JSON.stringify(LOCAL_URLS.fakeGraph)},
  phoneNumberId: ${JSON.stringify(DEMO_NUMBER.phoneNumberId)},
}
fs.writeFileSync(${JSON.stringify(files.envJson)}, JSON.stringify(env), { mode: 0o600 })
const quote = (v) => "'" + String(v).replaceAll("'", "'\\\\''") + "'"
const k6 = { BASE_URL: env.baseUrl, API_KEY: env.apiKey, APP_SECRET: env.appSecret, PHONE_NUMBER_ID: env.phoneNumberId, FAKE_GRAPH_URL: env.fakeGraphUrl }
fs.writeFileSync(${JSON.stringify(files.k6Exports)}, Object.entries(k6).map(([k, v]) => 'export ' + k + '=' + quote(v)).join('\\n') + '\\n', { mode: 0o600 })
`.trim()
}
