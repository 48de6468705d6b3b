// The staging → production rehearsal: the pipeline core with the AWS target deploys to staging, then
// promotes the digest staging passed to production, against one stateful in-memory AWS account
// (in-memory-aws.ts) whose state comes from the infrastructure program itself, run under Pulumi mocks for
// each stack config and each `up` the pipeline makes. HTTP (smoke, load) is answered by a local server that
// serves as the version the in-memory API service runs.
import { execFile } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StackProvisioner } from '../../src/aws/provisioner.js'
import { type AwsTarget, createAwsTarget } from '../../src/aws/target.js'
import { runPipeline } from '../../src/core/pipeline.js'
import type { Report } from '../../src/core/report.js'
import type { Tools } from '../../src/core/types.js'
import { runSmokeSuite } from '../../src/tools/smoke-runner.js'
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
    // A small real load: requests against the deployed URL, thresholded on failures. The webhook scenario
    // needs the app secret, which the target reads from the stack's Meta secret.
    load: async (url, _ctx, env) => {
      if (!env?.appSecret) throw new Error('load got no app secret: the webhook-ingest scenario cannot run')
      let failed = 0
      for (let i = 0; i < 20; i++) if ((await fetch(`${url}/api/v1/status`)).status !== 200) failed++
      const rate = failed / 20
      return {
        runner: 'autocannon',
        passed: rate < 0.01,
        exitCode: 0,
        thresholds: { http_req_failed: { value: rate, limit: 'rate<0.01', ok: rate < 0.01 } },
      }
    },
  }
}

async function deploy(stack: string, version: string, image?: string): Promise<Report> {
  serving = { cluster: `whatsapp-saas-${stack}`, service: `whatsapp-saas-${stack}-api` }
  return runPipeline({
    target: await target(stack),
    tools: tools(version),
    ...(image ? { image } : {}),
    reportsDir: join(dir, 'reports'),
    runId: `${stack}-${version}-${image ? 'promotion' : 'deploy'}`,
  })
}

const OPS_RESULTS: Record<string, string> = {
  backup: '{"id":"20261129T100000Z-a1","sizeBytes":2048}',
  'verify-backup': '{"id":"20261129T100000Z-a1","verified":true}',
  'migration-status': '{"applied":["0001_init"],"pending":[]}',
  migrate: '{"applied":[]}',
}

const envOf = (definition: {
  containerDefinitions?: { environment?: { name?: string; value?: string }[] }[]
}) =>
  Object.fromEntries((definition.containerDefinitions?.[0]?.environment ?? []).map((e) => [e.name, e.value]))

const stage = (report: Report, name: string) => report.stages.find((candidate) => candidate.name === name)!

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aws-rehearsal-'))
  aws = new InMemoryAws()
  aws.opsOutput = (command) => {
    const name = command[2] ?? ''
    return { exitCode: 0, lines: [`${name} running`, OPS_RESULTS[name] ?? '{}'] }
  }
  server = createServer((request, response) => {
    const image = aws.servingImage(serving.cluster, serving.service)
    const digest = image.slice(image.indexOf('@') + 1)
    const version =
      aws.tagsOf('whatsapp-saas-staging-api', digest).find((tag) => !/-(current|previous)$/.test(tag)) ?? '?'
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(JSON.stringify(body))
    }
    const url = new URL(request.url ?? '/', 'http://local')
    // Meta's webhook endpoints, checked with the secrets of the stack's Meta secret as the service does.
    if (url.pathname === '/webhooks/whatsapp' && request.method === 'GET') {
      const ok = url.searchParams.get('hub.verify_token') === META.verifyToken
      response.writeHead(ok ? 200 : 403)
      return response.end(ok ? (url.searchParams.get('hub.challenge') ?? '') : '')
    }
    if (url.pathname === '/webhooks/whatsapp' && request.method === 'POST') {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        const expected = `sha256=${createHmac('sha256', META.appSecret).update(Buffer.concat(chunks)).digest('hex')}`
        json(request.headers['x-hub-signature-256'] === expected ? 200 : 401, {})
      })
      return
    }
    if (request.url === '/health' && BROKEN.has(version))
      return json(503, { status: 'error', database: 'down' })
    if (request.url === '/health')
      return json(200, { status: 'ok', database: 'connected', redis: 'connected' })
    if (request.url === '/health/live') return json(200, { status: 'ok' })
    if (request.url === '/api/v1/status') return json(200, { version })
    return json(404, {})
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
    // Smoke ran its signed-webhook checks with the secrets read from Secrets Manager, which no report shows.
    const checks = stage(first, 'smoke').details.checks as { name: string; status: string }[]
    expect(checks.filter((check) => check.name.startsWith('webhook'))).toEqual([
      expect.objectContaining({ name: 'webhook-handshake', status: 'passed' }),
      expect.objectContaining({ name: 'webhook-signature', status: 'passed' }),
    ])
    expect(JSON.stringify(first)).not.toContain(META.appSecret)
    expect(aws.tagsOf('whatsapp-saas-staging-api', digestOf('image v1'))).toEqual(['staging-current', 'v1'])

    // 2. A stack-config change (the domain) reaches the services with the next deploy.
    stackConfig.staging = NEW_DOMAIN
    const second = await deploy('staging', 'v2')
    expect(second.status).toBe('succeeded')
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
