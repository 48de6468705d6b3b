import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp, closeAppDeps, createAppDeps } from '../../src/app.js'
import type { AppDeps } from '../../src/app-context.js'
import type { Config } from '../../src/config.js'
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma.js'
import { publishEvent } from '../../src/events/publish.js'
import { createWebhookDeliveryQueueProcessor } from '../../src/messaging/queue-processors.js'
import { CONNECTION_FAILED, DESTINATION_NOT_ALLOWED } from '../../src/messaging/webhook-delivery-processor.js'
import { issueApiKey } from '../../src/tenancy/api-keys.js'
import { type RunningWorkers, startWorkers } from '../../src/worker-runtime.js'
import { startTestEnvironment, type TestEnvironment } from '../harness/index.js'
import { startCustomerReceiver } from './customer-receiver.js'
import { LOOPBACK_WEBHOOKS, waitFor } from './fixtures.js'

// DNS as the tests want it, and changeable between registration and delivery (DNS rebinding).
const dns = new Map<string, string[]>()
const resolveHost = async (name: string) => {
  const answer = dns.get(name)
  if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' })
  return answer
}

interface Service {
  app: FastifyInstance
  deps: AppDeps
  config: Config
  headers: { authorization: string }
  organizationId: string
}

let env: TestEnvironment
let prisma: PrismaClient
let production: Service
let local: Service
let workers: RunningWorkers
let receiver: Awaited<ReturnType<typeof startCustomerReceiver>>
const servers: Server[] = []

async function startService(databaseUrl: string, messaging: Config['messaging']): Promise<Service> {
  const config = env.config({ databaseUrl, messaging })
  const deps: AppDeps = { ...createAppDeps(config), resolveHost }
  const app = await buildApp(config, { deps })
  await app.ready()
  const organization = await prisma.organization.create({
    data: { name: 'ssrf', slug: `ssrf-${Math.random().toString(36).slice(2, 10)}` },
  })
  const key = await issueApiKey(prisma, { organizationId: organization.id, name: 'test' })
  return {
    app,
    deps,
    config,
    headers: { authorization: `Bearer ${key.key}` },
    organizationId: organization.id,
  }
}

async function listen(handler: RequestListener): Promise<{ server: Server; port: number }> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port }
}

const register = (service: Service, url: string) =>
  service.app.inject({
    method: 'POST',
    url: '/api/v1/webhook-endpoints',
    headers: service.headers,
    payload: { url, events: ['message.status'] },
  })

async function attemptsOf(service: Service, endpointId: string) {
  const res = await service.app.inject({
    method: 'GET',
    url: `/api/v1/webhook-endpoints/${endpointId}/deliveries`,
    headers: service.headers,
  })
  return res.json().data as Array<{
    status: string
    lastError: string | null
    attemptLog: Array<{ statusCode: number | null; error: string | null }>
  }>
}

/** Registers `url` on the local-target service, emits one event and waits for its first attempt. */
async function deliverOnce(url: string, beforeEmit?: () => void) {
  const created = await register(local, url)
  expect(created.statusCode).toBe(201)
  const endpointId = created.json().id as string
  beforeEmit?.()
  const eventId = await publishEvent(prisma, {
    organizationId: local.organizationId,
    type: 'message.status',
    data: { messageId: 'm1' },
  })
  const [delivery] = await waitFor(
    () => attemptsOf(local, endpointId),
    // One attempt per delivery: its end is the row's status (the log is read by a second query).
    (d) => d[0] !== undefined && d[0].status !== 'pending' && d[0].attemptLog.length >= 1,
  )
  await local.app.inject({
    method: 'DELETE',
    url: `/api/v1/webhook-endpoints/${endpointId}`,
    headers: local.headers,
  })
  return { delivery: delivery!, eventId }
}

beforeAll(async () => {
  env = await startTestEnvironment()
  const databaseUrl = await env.createDatabase()
  prisma = createPrismaClient(databaseUrl, { maxConnections: 3, caFile: env.postgres.caFile })
  // Production's defaults: https on 443 only, no loopback.
  production = await startService(databaseUrl, {})
  // The local target's: loopback over http allowed; one attempt per delivery keeps failures quick.
  const localMessaging = {
    ...LOOPBACK_WEBHOOKS,
    customerWebhookMaxAttempts: 1,
    customerWebhookDisableAfter: 1_000,
  }
  local = await startService(databaseUrl, localMessaging)
  receiver = await startCustomerReceiver()
  workers = await startWorkers(env.config({ databaseUrl, messaging: localMessaging }), [
    createWebhookDeliveryQueueProcessor({ resolveHost }),
  ])
})

afterAll(async () => {
  await workers?.close()
  for (const service of [production, local]) {
    await service?.app.close()
    if (service) await closeAppDeps(service.deps)
  }
  await receiver?.close()
  for (const server of servers) {
    server.closeAllConnections()
    server.close()
  }
  await prisma?.$disconnect()
  await env?.stop()
})

describe('registering a customer webhook in production', () => {
  const refused = [
    'http://169.254.169.254/latest/meta-data/',
    'https://169.254.169.254/latest/meta-data/',
    'https://10.0.0.1/',
    'http://10.0.0.1/',
    'https://[::ffff:a9fe:a9fe]/',
    'http://[::ffff:169.254.169.254]/',
    'https://[fd00:ec2::254]/',
    'http://2130706433/',
    'https://2130706433/',
    'https://user:pass@example.com/',
    'http://127.0.0.1:5432/',
    'http://127.0.0.1:6379/',
    'https://127.0.0.1:5432/',
    'https://localhost/',
    'https://example.com:8080/',
    'https://internal.example.test/hooks',
    'https://nowhere.example.test/hooks',
  ]

  it('refuses forbidden destinations with 422 naming the reason, and stores nothing', async () => {
    dns.set('localhost', ['127.0.0.1', '::1'])
    dns.set('example.com', ['93.184.216.34'])
    dns.set('internal.example.test', ['10.20.30.40'])
    for (const url of refused) {
      const res = await register(production, url)
      expect(res.statusCode, url).toBe(422)
      const { error } = res.json()
      expect(error.code, url).toBe('WEBHOOK_URL_NOT_ALLOWED')
      expect(error.message, url).toMatch(/^url refused: /)
      expect(error.details.reason, url).toMatch(
        /^(https-required|port-not-allowed|credentials-in-url|address-not-allowed|unresolvable)$/,
      )
    }
    const internal = (await register(production, 'https://internal.example.test/hooks')).json().error
    expect(internal.message).toBe(
      'url refused: internal.example.test resolves to a private address (10.20.30.40)',
    )
    expect(await prisma.webhookEndpoint.count({ where: { organizationId: production.organizationId } })).toBe(
      0,
    )
  })

  it('accepts a public https endpoint, and refuses changing it to a forbidden one', async () => {
    dns.set('hooks.example.test', ['93.184.216.34'])
    const created = await register(production, 'https://hooks.example.test/whatsapp')
    expect(created.statusCode).toBe(201)
    const patched = await production.app.inject({
      method: 'PATCH',
      url: `/api/v1/webhook-endpoints/${created.json().id}`,
      headers: production.headers,
      payload: { url: 'https://[::ffff:a9fe:a9fe]/' },
    })
    expect(patched.statusCode).toBe(422)
    expect(patched.json().error.details.reason).toBe('address-not-allowed')
    const stored = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: created.json().id } })
    expect(stored.url).toBe('https://hooks.example.test/whatsapp')
  })
})

describe('delivering a customer webhook', () => {
  it('connects to the address the checked lookup answered', async () => {
    dns.set('receiver.example.test', ['127.0.0.1'])
    const port = new URL(receiver.url).port
    const { delivery, eventId } = await deliverOnce(`http://receiver.example.test:${port}/hooks`)
    expect(delivery.attemptLog[0]).toMatchObject({ statusCode: 204, error: null })
    expect(receiver.requests.filter((r) => r.headers['webhook-id'] === eventId)).toHaveLength(1)
  })

  it('does not connect when the name resolves to a forbidden address at send time (DNS rebinding)', async () => {
    const port = new URL(receiver.url).port
    dns.set('rebind.example.test', ['127.0.0.1'])
    const before = receiver.requests.length
    const { delivery } = await deliverOnce(`http://rebind.example.test:${port}/hooks`, () =>
      dns.set('rebind.example.test', ['169.254.169.254']),
    )
    expect(delivery.attemptLog[0]).toMatchObject({ statusCode: null, error: DESTINATION_NOT_ALLOWED })
    expect(delivery.status).toBe('failed')
    // Nothing reached the receiver, nor any other address.
    expect(receiver.requests.length).toBe(before)
  })

  it('does not follow redirects', async () => {
    let reachedTarget = 0
    const target = await listen((_req, res) => {
      reachedTarget += 1
      res.end()
    })
    const redirecting = await listen((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/stolen` }).end()
    })
    const { delivery } = await deliverOnce(`http://127.0.0.1:${redirecting.port}/hooks`)
    expect(delivery.attemptLog[0]).toMatchObject({ statusCode: 302, error: 'HTTP 302' })
    expect(reachedTarget).toBe(0)
  })

  it('logs every connection failure to the tenant as the same generic class', async () => {
    // A closed port (refused) and a port that accepts then resets: a port scanner would tell them apart.
    const closed = await listen(() => {})
    await new Promise<void>((resolve) => closed.server.close(() => resolve()))
    const resetting = await listen((req) => req.socket.destroy())
    const errors: (string | null)[] = []
    for (const port of [closed.port, resetting.port]) {
      const { delivery } = await deliverOnce(`http://127.0.0.1:${port}/hooks`)
      errors.push(delivery.attemptLog[0]!.error, delivery.lastError)
      expect(delivery.attemptLog[0]!.statusCode).toBeNull()
    }
    expect(errors).toEqual(Array(4).fill(CONNECTION_FAILED))
  })
})
