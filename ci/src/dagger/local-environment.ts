// The local environment inside the engine: PostgreSQL, Redis, the fake WhatsApp Graph API, the API and
// its worker as Dagger services, wired by service bindings (host names below). The same shape as the
// CLI's embedded local target (DESIGN.md), so the smoke suite and k6 run unchanged against either.
import { API_PORT, FAKE_GRAPH_PORT, SERVICE_HOSTS } from './images.js'

/** The secrets the service needs; generated per environment, passed only as Dagger secrets. */
export const SERVICE_SECRET_NAMES = [
  'ADMIN_TOKEN',
  'META_APP_SECRET',
  'META_VERIFY_TOKEN',
  'ENCRYPTION_KEY',
] as const
export type ServiceSecretName = (typeof SERVICE_SECRET_NAMES)[number]

export const LOCAL_DATABASE = 'whatsapp_saas'
/** Fake Graph access token wired to the demo phone number (the fake accepts only this one). */
export const FAKE_GRAPH_ACCESS_TOKEN_NAME = 'FAKE_GRAPH_ACCESS_TOKEN'

export const LOCAL_URLS = {
  // Trust authentication inside the engine's private network only; no password exists to leak.
  database: `postgresql://postgres@${SERVICE_HOSTS.postgres}:5432/${LOCAL_DATABASE}`,
  redis: `redis://${SERVICE_HOSTS.redis}:6379`,
  api: `http://${SERVICE_HOSTS.api}:${API_PORT}`,
  fakeGraph: `http://${SERVICE_HOSTS.fakeGraph}:${FAKE_GRAPH_PORT}`,
} as const

/** Plain (non-secret) env of the API, worker and ops containers of the local environment. */
export function serviceEnvironment(version: string): Record<string, string> {
  return {
    DATABASE_URL: LOCAL_URLS.database,
    REDIS_URL: LOCAL_URLS.redis,
    HOST: '0.0.0.0',
    PORT: String(API_PORT),
    APP_VERSION: version,
    LOG_LEVEL: 'info',
    GRAPH_API_BASE_URL: LOCAL_URLS.fakeGraph,
    // Writable by the image's non-root user; lives as long as the container that runs the ops commands.
    BACKUP_STORE: 'file:///tmp/whatsapp-saas-backups',
    MIGRATE_MAX_BACKUP_AGE_MINUTES: '30',
  }
}

/** Plain env of the fake Graph API service: it signs webhooks back to the API. */
export function fakeGraphEnvironment(): Record<string, string> {
  return {
    FAKE_GRAPH_HOST: '0.0.0.0',
    FAKE_GRAPH_PORT: String(FAKE_GRAPH_PORT),
    FAKE_GRAPH_WEBHOOK_URL: `${LOCAL_URLS.api}/webhooks/whatsapp`,
  }
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
  /** Last JSON line of the ops `seed` command: the demo organization's API key and phone number id. */
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
if (!seed.apiKey || !seed.phoneNumberId) throw new Error('seed output has no apiKey/phoneNumberId')
const env = {
  baseUrl: ${JSON.stringify(LOCAL_URLS.api)},
  adminToken: e.ADMIN_TOKEN,
  apiKey: seed.apiKey,
  appSecret: e.META_APP_SECRET,
  verifyToken: e.META_VERIFY_TOKEN,
  fakeGraphUrl: ${JSON.stringify(LOCAL_URLS.fakeGraph)},
  phoneNumberId: String(seed.phoneNumberId),
}
fs.writeFileSync(${JSON.stringify(files.envJson)}, JSON.stringify(env), { mode: 0o600 })
const quote = (v) => "'" + String(v).replaceAll("'", "'\\\\''") + "'"
const k6 = { BASE_URL: env.baseUrl, API_KEY: env.apiKey, APP_SECRET: env.appSecret, PHONE_NUMBER_ID: env.phoneNumberId, FAKE_GRAPH_URL: env.fakeGraphUrl }
fs.writeFileSync(${JSON.stringify(files.k6Exports)}, Object.entries(k6).map(([k, v]) => 'export ' + k + '=' + quote(v)).join('\\n') + '\\n', { mode: 0o600 })
`.trim()
}
