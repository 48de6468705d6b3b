// The staging → production rehearsal: the pipeline core with the AWS target deploys to staging, then
// promotes the digest staging passed to production, against one stateful in-memory AWS account
// (in-memory-aws.ts) whose state comes from the infrastructure program itself, run under Pulumi mocks for
// each stack config and each `up` the pipeline makes. HTTP (smoke, load) is answered by a local server that
// serves as the version the in-memory API service runs, with that stack's own data (organizations, keys,
// phone numbers, messages) and the secrets and environment its task definition gets from the account.
import { execFile } from 'node:child_process'
import { createHmac, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StackProvisioner } from '../../src/aws/provisioner.js'
import { type AwsTarget, createAwsTarget } from '../../src/aws/target.js'
import { type PipelineEvent, runPipeline } from '../../src/core/pipeline.js'
import type { Report } from '../../src/core/report.js'
import type { Tools } from '../../src/core/types.js'
import { runSmokeSuite } from '../../src/tools/smoke-runner.js'
import { OPS_LINES } from '../core/ops-lines.js'
import { ACCOUNT_ID, digestOf, InMemoryAws, type PulumiItem } from './in-memory-aws.js'

const here = dirname(fileURLToPath(import.meta.url))
const INFRA = join(here, '..', '..', '..', 'infra')
const REPOSITORY = `${ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/whatsapp-saas-staging-api`
const STAGING = 'whatsapp-saas-staging'
const PRODUCTION = 'whatsapp-saas-production'
/** What each version's image holds; v3 is a build whose API does not answer /health. */
const IMAGE = (version: string) => `${REPOSITORY}@${digestOf(`image ${version}`)}`
const BROKEN = new Set(['v3'])
/** The Meta credentials an operator puts into each stack's secret (one-time step). */
const META = { appSecret: 'meta-app-secret-staging', verifyToken: 'meta-verify-token-staging' }
/** The stack-config change of the second staging deploy: a new domain, hence a new PUBLIC_URL. */
const NEW_DOMAIN = { 'whatsapp-saas:domain': 'api2.staging.example.com' }

type PulumiRun = { inventory: PulumiItem[]; outputs: Record<string, unknown> }
const runs = new Map<string, Promise<PulumiRun>>()

/** `pulumi up` of one stack config, as the infrastructure program registers it under Pulumi mocks. */
function pulumiRun(
  stack: string,
  image?: string,
  overrides: Record<string, string> = {},
): Promise<PulumiRun> {
  const key = JSON.stringify([stack, image, overrides])
  let run = runs.get(key)
  if (!run) {
    run = promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        join(here, 'support', 'pulumi-stack-run.ts'),
        '--stack',
        stack,
        ...(image ? ['--image', image] : []),
        '--overrides',
        JSON.stringify(overrides),
      ],
      { cwd: INFRA, maxBuffer: 64 * 1024 * 1024 },
    ).then(({ stdout }) => JSON.parse(stdout) as PulumiRun)
    runs.set(key, run)
  }
  return run
}

let aws: InMemoryAws
let dir: string
let server: Server
let baseUrl: string
/** Which stack's API the local server stands in for (the one being smoke-tested). */
let serving = { cluster: STAGING, service: `${STAGING}-api` }
const stackConfig: Record<string, Record<string, string>> = { staging: {}, production: {} }
const lastOutputs: Record<string, Record<string, string>> = {}

function provisioner(stack: string): StackProvisioner {
  return {
    preview: async () => ({ summary: 'no changes', changes: [] }),
    up: async (log, _signal, options) => {
      const run = await pulumiRun(stack, options?.image, stackConfig[stack])
      lastOutputs[stack] = aws.applyPulumi(run.inventory, run.outputs)
      log.info(`pulumi up ${stack}${options?.image ? ` with image ${options.image}` : ''}`)
      return { summary: 'succeeded', outputs: lastOutputs[stack]! }
    },
    outputs: async () => lastOutputs[stack] ?? {},
  }
}

async function target(stack: string): Promise<AwsTarget> {
  const created = await createAwsTarget({
    stack,
    region: 'us-east-1',
    maxAttempts: 1,
    stateDir: join(dir, 'state'),
    timeouts: {
      pollIntervalMs: 1,
      rolloutTimeoutMs: 60_000,
      targetsHealthyTimeoutMs: 10_000,
      taskTimeoutMs: 10_000,
    },
    clock: { now: () => Date.now(), sleep: async () => {} },
    provisioner: provisioner(stack),
    containerCli: async () => ({
      name: 'docker',
      login: async () => {},
      tag: async () => {},
      push: async (image) => {
        const tag = image.slice(image.lastIndexOf(':') + 1)
        aws.push(image.slice(0, image.lastIndexOf(':')), tag, `image ${tag}`)
      },
    }),
  })
  // The service's HTTP is the local server (the ALB and its DNS name are not reachable from a test).
  return Object.create(created, { baseUrl: { value: async () => baseUrl } }) as AwsTarget
}

function tools(version: string): Tools {
  return {
    build: async () => ({ summary: `built ${version}` }),
    test: async () => ({ summary: 'tested' }),
    package: async () => ({ ref: 'whatsapp-saas-api', digest: digestOf(`local ${version}`), version }),
    smoke: runSmokeSuite,
    // A small real load of every scenario's kind, thresholded on failures: signed webhooks (the app secret
    // from the stack's Meta secret), sends and reads with the synthetic tenant's key from its number.
    load: async (url, _ctx, env) => {
      if (!env?.appSecret || !env.apiKey || !env.phoneNumberId)
        throw new Error('load got no app secret, API key or phone number: its scenarios cannot run')
      let failed = 0
      const auth = { authorization: `Bearer ${env.apiKey}`, 'content-type': 'application/json' }
      for (let i = 0; i < 10; i++) {
        const from = `1555700${String(i).padStart(4, '0')}`
        const body = inbound(env.phoneNumberId, from)
        const webhook = await fetch(`${url}/webhooks/whatsapp`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(env.appSecret, body) },
          body,
        })
        const sent = await fetch(`${url}/api/v1/messages`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({
            phoneNumberId: env.phoneNumberId,
            to: from,
            type: 'text',
            text: { body: 'load' },
          }),
        })
        const read = await fetch(`${url}/api/v1/messages?limit=20`, { headers: auth })
        failed += [webhook.status === 200, sent.status === 202, read.status === 200].filter(
          (ok) => !ok,
        ).length
      }
      const rate = failed / 30
      return {
        runner: 'autocannon',
        passed: rate < 0.01,
        exitCode: 0,
        thresholds: { http_req_failed: { value: rate, limit: 'rate<0.01', ok: rate < 0.01 } },
      }
    },
  }
}

/** Every line the pipeline logged, as a CI job would show it. */
const logged: string[] = []

async function deploy(stack: string, version: string, image?: string): Promise<Report> {
  serving = { cluster: `whatsapp-saas-${stack}`, service: `whatsapp-saas-${stack}-api` }
  return runPipeline({
    onEvent: (event: PipelineEvent) => {
      if (event.type === 'stage-log') logged.push(event.line)
    },
    target: await target(stack),
    tools: tools(version),
    ...(image ? { image } : {}),
    reportsDir: join(dir, 'reports'),
    runId: `${stack}-${version}-${image ? 'promotion' : 'deploy'}`,
  })
}

const BACKUP_ID = '20261129T100000Z-a1'
const OPS_RESULTS: Record<string, string> = {
  backup: JSON.stringify({ ...OPS_LINES.backup, backupId: BACKUP_ID }),
  'verify-backup': JSON.stringify({ ...OPS_LINES['verify-backup'], backupId: BACKUP_ID }),
  'migration-status': JSON.stringify({ ...OPS_LINES['migration-status'], pending: [] }),
  migrate: JSON.stringify({ ...OPS_LINES.migrate, backupId: BACKUP_ID, applied: [] }),
}

const envOf = (definition: {
  containerDefinitions?: { environment?: { name?: string; value?: string }[] }[]
}) =>
  Object.fromEntries((definition.containerDefinitions?.[0]?.environment ?? []).map((e) => [e.name, e.value]))

interface InboundValue {
  metadata: { phone_number_id: string }
  messages?: { from: string }[]
}

/** One stack's service data (its own database): what the synthetic tenant leaves behind. */
interface StackData {
  orgs: Map<string, { id: string; slug: string; name: string }>
  keys: Map<
    string,
    { id: string; organizationId: string; scopes: string[]; expiresAt: number; revoked: boolean }
  >
  phones: {
    id: string
    organizationId: string
    phoneNumberId: string
    graphApiBaseUrl: string | null
    status: string
  }[]
  windows: Set<string>
  messages: Map<string, number>
  webhooks: string[]
}
const databases = new Map<string, StackData>()
function database(cluster: string): StackData {
  let db = databases.get(cluster)
  if (!db) {
    db = {
      orgs: new Map(),
      keys: new Map(),
      phones: [],
      windows: new Set(),
      messages: new Map(),
      webhooks: [],
    }
    databases.set(cluster, db)
  }
  return db
}

const sign = (secret: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`

function inbound(phoneNumberId: string, from: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '1',
        changes: [
          {
            field: 'messages',
            value: {
              metadata: { phone_number_id: phoneNumberId },
              messages: [{ from, id: `wamid.${randomUUID()}`, type: 'text', text: { body: 'hi' } }],
            },
          },
        ],
      },
    ],
  })
}

const stage = (report: Report, name: string) => report.stages.find((candidate) => candidate.name === name)!

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aws-rehearsal-'))
  aws = new InMemoryAws()
  aws.opsOutput = (command) => {
    const name = command[2] ?? ''
    return { exitCode: 0, lines: [`${name} running`, OPS_RESULTS[name] ?? '{}'] }
  }
  server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () =>
      serve(request.method ?? 'GET', request.url ?? '/', request.headers, Buffer.concat(chunks)),
    )
    function serve(method: string, path: string, headers: IncomingHttpHeaders, raw: Buffer) {
      const image = aws.servingImage(serving.cluster, serving.service)
      const digest = image.slice(image.indexOf('@') + 1)
      const version =
        aws.tagsOf('whatsapp-saas-staging-api', digest).find((tag) => !/-(current|previous)$/.test(tag)) ??
        '?'
      const json = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' })
        response.end(body === undefined ? '' : JSON.stringify(body))
      }
      const url = new URL(path, 'http://local')
      const route = `${method} ${url.pathname}`
      const db = database(serving.cluster)
      // What ECS gives the serving task: its secrets and its task definition's environment.
      const adminToken = aws.secretValue(`${serving.cluster}-admin-token-secret`)
      const synthetic = envOf(
        aws.taskDefinitions.get(aws.services.get(`${serving.cluster}/${serving.service}`)!.taskDefinition)!,
      ).SYNTHETIC_GRAPH_API_BASE_URL
      const body = () => JSON.parse(raw.toString() || '{}') as Record<string, unknown>
      const bearer = String(headers.authorization ?? '')
      const key = db.keys.get(bearer.replace(/^Bearer /, ''))
      const scoped = (scope: string) =>
        key && !key.revoked && key.expiresAt > Date.now() && key.scopes.includes(scope) ? key : undefined

      // Meta's webhook endpoints, checked with the secrets of the stack's Meta secret as the service does.
      if (route === 'GET /webhooks/whatsapp') {
        const ok = url.searchParams.get('hub.verify_token') === META.verifyToken
        response.writeHead(ok ? 200 : 403)
        return response.end(ok ? (url.searchParams.get('hub.challenge') ?? '') : '')
      }
      if (route === 'POST /webhooks/whatsapp') {
        if (headers['x-hub-signature-256'] !== sign(META.appSecret, raw.toString())) return json(401, {})
        const value = (body() as { entry: { changes: { value: InboundValue }[] }[] }).entry[0]!.changes[0]!
          .value
        db.webhooks.push(value.metadata.phone_number_id)
        const owned = db.phones.some((phone) => phone.phoneNumberId === value.metadata.phone_number_id)
        for (const message of value.messages ?? [])
          if (owned) db.windows.add(`${value.metadata.phone_number_id}:${message.from}`)
        return json(200, { status: 'queued' })
      }
      if (route === 'GET /health' && BROKEN.has(version))
        return json(503, { status: 'error', database: 'down' })
      if (route === 'GET /health')
        return json(200, { status: 'ok', database: 'connected', redis: 'connected' })
      if (route === 'GET /health/live') return json(200, { status: 'ok' })
      if (route === 'GET /api/v1/status') return json(200, { version })

      // The admin API (Bearer ADMIN_TOKEN).
      if (url.pathname.startsWith('/api/v1/organizations')) {
        if (!adminToken || bearer !== `Bearer ${adminToken}`)
          return json(401, { error: { code: 'UNAUTHORIZED' } })
        if (route === 'GET /api/v1/organizations') {
          const org = db.orgs.get(url.searchParams.get('slug') ?? '')
          return json(200, { data: org ? [org] : [] })
        }
        if (route === 'POST /api/v1/organizations') {
          const { slug, name } = body() as { slug: string; name: string }
          if (db.orgs.has(slug)) return json(409, { error: { code: 'SLUG_TAKEN' } })
          const org = { id: `org_${randomUUID()}`, slug, name }
          db.orgs.set(slug, org)
          return json(201, org)
        }
        const issue = /^\/api\/v1\/organizations\/([^/]+)\/api-keys(?:\/([^/]+))?$/.exec(url.pathname)
        if (issue && method === 'POST') {
          const { scopes, expiresAt } = body() as { scopes: string[]; expiresAt: string }
          const id = `key_${randomUUID()}`
          const plaintext = `wsk_live_${randomUUID().replaceAll('-', '')}`
          db.keys.set(plaintext, {
            id,
            organizationId: issue[1]!,
            scopes,
            expiresAt: Date.parse(expiresAt),
            revoked: false,
          })
          return json(201, { id, key: plaintext, scopes })
        }
        if (issue?.[2] && method === 'DELETE') {
          const found = [...db.keys.values()].find((k) => k.id === issue[2] && k.organizationId === issue[1])
          if (!found) return json(404, { error: { code: 'NOT_FOUND' } })
          found.revoked = true
          return json(204, undefined)
        }
      }

      // The tenant API (Bearer API key, by scope).
      if (route === 'GET /api/v1/phone-numbers') {
        const caller = scoped('phone_numbers:read')
        if (!caller) return json(401, {})
        return json(200, {
          data: db.phones.filter((phone) => phone.organizationId === caller.organizationId),
          nextCursor: null,
        })
      }
      if (route === 'POST /api/v1/phone-numbers') {
        const caller = scoped('phone_numbers:write')
        if (!caller) return json(key ? 403 : 401, {})
        const given = body() as { phoneNumberId: string; graphApiBaseUrl?: string }
        // The service's rule: the only override accepted is SYNTHETIC_GRAPH_API_BASE_URL.
        if (given.graphApiBaseUrl !== undefined && given.graphApiBaseUrl !== synthetic)
          return json(422, { error: { code: 'GRAPH_BASE_URL_NOT_ALLOWED', message: 'not allowed' } })
        const phone = {
          id: `pn_${randomUUID()}`,
          organizationId: caller.organizationId,
          phoneNumberId: given.phoneNumberId,
          graphApiBaseUrl: given.graphApiBaseUrl ?? null,
          status: 'ACTIVE',
        }
        db.phones.push(phone)
        return json(201, phone)
      }
      if (route === 'GET /api/v1/messages') return json(scoped('messages:read') ? 200 : 401, { data: [] })
      if (route === 'POST /api/v1/messages') {
        if (!scoped('messages:write')) return json(401, {})
        const { phoneNumberId, to } = body() as { phoneNumberId: string; to: string }
        if (!db.windows.has(`${phoneNumberId}:${to}`))
          return json(422, { error: { code: 'OUTSIDE_SERVICE_WINDOW' } })
        const id = `msg_${randomUUID()}`
        db.messages.set(id, 0)
        return json(202, { id, status: 'queued' })
      }
      const polled = /^\/api\/v1\/messages\/([^/]+)$/.exec(url.pathname)
      if (polled && method === 'GET' && scoped('messages:read') && db.messages.has(polled[1]!)) {
        const polls = db.messages.get(polled[1]!)!
        db.messages.set(polled[1]!, polls + 1)
        // The fake Graph API's status webhooks arrive after the send: queued, then delivered.
        return json(200, { id: polled[1], status: polls === 0 ? 'queued' : 'delivered' })
      }
      return json(404, {})
    }
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  // Every `up` the rehearsal makes, computed up front (each is a process: Pulumi's runtime is per process).
  const planned: [string, string | undefined, Record<string, string>][] = [
    ['staging', undefined, {}],
    ['production', undefined, {}],
    ['staging', IMAGE('v1'), {}],
    ['staging', IMAGE('v2'), NEW_DOMAIN],
    ['staging', IMAGE('v3'), NEW_DOMAIN],
    ['production', IMAGE('v2'), {}],
  ]
  for (let i = 0; i < planned.length; i += 3)
    await Promise.all(
      planned.slice(i, i + 3).map(([stack, image, overrides]) => pulumiRun(stack, image, overrides)),
    )
}, 600_000)

afterAll(async () => {
  aws?.restore()
  await new Promise((done) => server?.close(done))
  await rm(dir, { recursive: true, force: true })
})

describe('rehearsal: a fresh account, staging deploys, production receives what staging passed', () => {
  it('runs the first deploys, a rollback after a failed smoke, a refused and an accepted promotion', async () => {
    // One-time steps of a new account: an administrator's first `up` of each stack (no image yet), then
    // Meta's credentials put into each stack's secret.
    for (const stack of ['staging', 'production'])
      await provisioner(stack).up({ info() {}, warn() {} }, new AbortController().signal)
    // Both stacks answer from the same local stand-in here, so they share the credentials.
    aws.putSecret(`${STAGING}-meta-secret`, JSON.stringify(META))
    aws.putSecret(`${PRODUCTION}-meta-secret`, JSON.stringify(META))
    // Production owns no repository: it pulls from the one staging created.
    expect([...aws.repositories.keys()]).toEqual(['whatsapp-saas-staging-api'])

    // 1. The first staging deploy: build, publish, provision with that digest, migrate, roll out, smoke, load.
    const first = await deploy('staging', 'v1')
    expect(first.reason).toBeUndefined()
    expect(first.status).toBe('succeeded')
    expect(first.artifact).toMatchObject({ ref: REPOSITORY, digest: digestOf('image v1'), version: 'v1' })
    expect(aws.servingImage(STAGING, `${STAGING}-api`)).toBe(IMAGE('v1'))
    expect(aws.servingImage(STAGING, `${STAGING}-worker`)).toBe(IMAGE('v1'))
    // Smoke ran every check, the keyed and sending ones with the synthetic tenant the pipeline ensured
    // through the admin API (token read from Secrets Manager), and the load stage ran and passed.
    const checks = stage(first, 'smoke').details.checks as { name: string; status: string }[]
    expect(checks.map((check) => [check.name, check.status])).toEqual(
      [
        'health',
        'liveness',
        'version',
        'webhook-handshake',
        'webhook-signature',
        'authenticated-read',
        'message-delivery',
      ].map((name) => [name, 'passed']),
    )
    expect(stage(first, 'load')).toMatchObject({ status: 'succeeded', details: { passed: true } })
    const staging = database(STAGING)
    const [tenant] = [...staging.orgs.values()]
    expect(tenant).toMatchObject({ slug: 'synthetic-staging' })
    expect(staging.phones).toEqual([
      expect.objectContaining({
        organizationId: tenant!.id,
        graphApiBaseUrl: `http://fake-graph.${STAGING}.internal:4004`,
      }),
    ])
    // The run's key was revoked when the run ended.
    expect([...staging.keys.values()].map((key) => key.revoked)).toEqual([true])
    // The admin token, Meta's app secret and the run's key are in no report and no log line.
    const adminToken = aws.secretValue(`${STAGING}-admin-token-secret`)!
    expect(adminToken.length).toBeGreaterThan(8)
    for (const secret of [adminToken, META.appSecret, ...staging.keys.keys()]) {
      expect(JSON.stringify(first)).not.toContain(secret)
      expect(logged.join('\n')).not.toContain(secret)
    }
    expect(logged.join('\n')).toMatch(/synthetic tenant org_.*run key key_/)
    expect(aws.tagsOf('whatsapp-saas-staging-api', digestOf('image v1'))).toEqual(['staging-current', 'v1'])

    // 2. A stack-config change (the domain) reaches the services with the next deploy.
    stackConfig.staging = NEW_DOMAIN
    const second = await deploy('staging', 'v2')
    expect(second.status).toBe('succeeded')
    // Re-runs reuse the synthetic tenant and its number: nothing is duplicated, each run had its own key.
    expect(staging.orgs.size).toBe(1)
    expect(staging.phones).toHaveLength(1)
    expect([...staging.keys.values()].map((key) => key.revoked)).toEqual([true, true])
    const api = aws.services.get(`${STAGING}/${STAGING}-api`)!
    expect(envOf(aws.taskDefinitions.get(api.taskDefinition)!).PUBLIC_URL).toBe(
      'https://api2.staging.example.com',
    )
    expect(envOf(aws.taskDefinitions.get(api.taskDefinition)!).SYNTHETIC_GRAPH_API_BASE_URL).toBe(
      `http://fake-graph.${STAGING}.internal:4004`,
    )
    expect(aws.servingImage(STAGING, `${STAGING}-api`)).toBe(IMAGE('v2'))
    expect(aws.tagsOf('whatsapp-saas-staging-api', digestOf('image v1'))).toEqual(['staging-previous', 'v1'])

    // 3. A build whose smoke fails is rolled back; what serves, and what the daily backup runs, is v2 again.
    const third = await deploy('staging', 'v3')
    expect(third.status).toBe('rolled_back')
    expect(stage(third, 'smoke').status).toBe('failed')
    expect(third.reason).toMatch(/smoke failed.*rolled back to v2/)
    expect(aws.servingImage(STAGING, `${STAGING}-api`)).toBe(IMAGE('v2'))
    expect(aws.servingImage(STAGING, `${STAGING}-worker`)).toBe(IMAGE('v2'))
    expect(aws.latestActive(`${STAGING}-api`)?.containerDefinitions?.[0]?.image).toBe(IMAGE('v2'))
    expect(aws.latestActive(`${STAGING}-worker`)?.containerDefinitions?.[0]?.image).toBe(IMAGE('v2'))
    // v1 is again what a rollback of staging would return to: protected as such.
    expect(aws.tagsOf('whatsapp-saas-staging-api', digestOf('image v2'))).toEqual(['staging-current', 'v2'])
    expect(aws.tagsOf('whatsapp-saas-staging-api', digestOf('image v1'))).toEqual(['staging-previous', 'v1'])
    expect(aws.tagsOf('whatsapp-saas-staging-api', digestOf('image v3'))).toEqual(['v3'])

    // 4. Production refuses a digest staging never passed, before touching anything.
    const refused = await deploy('production', 'v3', IMAGE('v3'))
    expect(refused.status).toBe('failed')
    expect(stage(refused, 'build').summary).toMatch(/never passed staging/)
    expect(stage(refused, 'provision').status).toBe('skipped')
    expect(
      aws.unrunnable(
        aws.taskDefinitions.get(aws.services.get(`${PRODUCTION}/${PRODUCTION}-api`)!.taskDefinition)!,
      ),
    ).toMatch(/CannotPullContainerError/)

    // 5. Production receives exactly what staging passed: same digest, pulled from staging's repository by
    // production's execution role, no rebuild, no load test; the report carries staging's load results.
    const promoted = await deploy('production', 'v2', IMAGE('v2'))
    expect(promoted.reason).toBeUndefined()
    expect(promoted.status).toBe('succeeded')
    expect(promoted.artifact).toMatchObject({ ref: REPOSITORY, digest: digestOf('image v2'), version: 'v2' })
    expect(stage(promoted, 'publish').status).toBe('skipped')
    expect(stage(promoted, 'load')).toMatchObject({ status: 'skipped' })
    expect(stage(promoted, 'load').summary).toMatch(/not load-tested by default/)
    expect(stage(promoted, 'build').details.promotedFrom).toMatchObject({
      stack: 'staging',
      runId: 'staging-v2-deploy',
      load: { passed: true, thresholds: { http_req_failed: { ok: true } } },
    })
    expect(aws.servingImage(PRODUCTION, `${PRODUCTION}-api`)).toBe(IMAGE('v2'))
    expect(aws.servingImage(PRODUCTION, `${PRODUCTION}-worker`)).toBe(IMAGE('v2'))
    // Production ran the read-only checks only: with a read-only synthetic key, no number, nothing written.
    expect(
      (stage(promoted, 'smoke').details.checks as { name: string; status: string }[]).map((check) => [
        check.name,
        check.status,
      ]),
    ).toEqual([
      ['health', 'passed'],
      ['liveness', 'passed'],
      ['version', 'passed'],
      ['webhook-handshake', 'passed'],
      ['webhook-signature', 'skipped'],
      ['authenticated-read', 'passed'],
      ['message-delivery', 'skipped'],
    ])
    const production = database(PRODUCTION)
    expect([...production.orgs.values()]).toEqual([expect.objectContaining({ slug: 'synthetic-production' })])
    expect(production.phones).toEqual([])
    expect(production.webhooks).toEqual([])
    expect([...production.keys.values()]).toEqual([
      expect.objectContaining({ scopes: ['messages:read'], revoked: true }),
    ])
    const productionAdmin = aws.secretValue(`${PRODUCTION}-admin-token-secret`)!
    expect(JSON.stringify(promoted)).not.toContain(productionAdmin)
    expect(logged.join('\n')).not.toContain(productionAdmin)
    const productionApi = aws.taskDefinitions.get(
      aws.services.get(`${PRODUCTION}/${PRODUCTION}-api`)!.taskDefinition,
    )!
    expect(envOf(productionApi).SYNTHETIC_GRAPH_API_BASE_URL).toBeUndefined()
    expect(aws.tagsOf('whatsapp-saas-staging-api', digestOf('image v2'))).toEqual([
      'production-current',
      'staging-current',
      'v2',
    ])
  }, 600_000)
})
