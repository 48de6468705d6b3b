import type { RedisServer } from '@whatsapp-saas/local-services'
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import pino from 'pino'
import { encryptSecret } from '../../src/crypto/secret-box.js'
import type { PrismaClient } from '../../src/db/prisma.js'
import { DEFAULT_WABA_ID } from '../../src/fake-graph/index.js'
import { GraphClient } from '../../src/messaging/graph-client.js'
import { DEFAULT_MESSAGING_SETTINGS, type MessagingSettings } from '../../src/messaging/messaging-settings.js'
import { createOutboundProcessor, type OutboundHooks } from '../../src/messaging/outbound-processor.js'
import { OUTBOUND_QUEUE } from '../../src/messaging/outbound-queue.js'
import { SendRateLimiter } from '../../src/messaging/send-rate-limiter.js'
import type { TypedSql } from '../../src/sql/typed-sql.js'
import { TEST_SECRETS } from '../harness/index.js'

export const GRAPH_TOKEN = 'graph-token-for-tests'

export async function seedPhoneNumber(
  prisma: PrismaClient,
  organizationId: string,
  phoneNumberId: string,
  extra: { throughputMps?: number; wabaId?: string; graphApiBaseUrl?: string } = {},
) {
  return prisma.phoneNumber.create({
    data: {
      organizationId,
      wabaId: extra.wabaId ?? DEFAULT_WABA_ID,
      phoneNumberId,
      displayPhoneNumber: `1555${phoneNumberId.slice(-7).padStart(7, '0')}`,
      accessTokenEnc: encryptSecret(GRAPH_TOKEN, TEST_SECRETS.encryptionKey),
      throughputMps: extra.throughputMps ?? 80,
      graphApiBaseUrl: extra.graphApiBaseUrl ?? null,
    },
  })
}

export async function seedTemplate(
  prisma: PrismaClient,
  organizationId: string,
  template: { name: string; language: string; status: string; wabaId?: string },
) {
  return prisma.template.create({
    data: {
      organizationId,
      wabaId: template.wabaId ?? DEFAULT_WABA_ID,
      name: template.name,
      language: template.language,
      status: template.status,
      category: 'UTILITY',
      components: [],
      syncedAt: new Date(),
    },
  })
}

/** A contact whose last inbound message was at `lastInboundAt` (opens the 24-hour window). */
export async function seedConversation(
  prisma: PrismaClient,
  organizationId: string,
  phoneNumberDbId: string,
  waId: string,
  lastInboundAt: Date | null,
  optedOut = false,
) {
  const contact = await prisma.contact.create({
    data: { organizationId, waId, ...(optedOut ? { optedOutAt: new Date(), optOutSource: 'api' } : {}) },
  })
  return prisma.conversation.create({
    data: { organizationId, phoneNumberId: phoneNumberDbId, contactId: contact.id, lastInboundAt },
  })
}

/**
 * One QUEUED template send (hello_world) to each recipient, each in a conversation of its own on the number, stored
 * as the accept path stores them (enqueue them with the message id as job id); returns their ids in recipient order.
 */
export async function seedQueuedTemplateSends(
  prisma: PrismaClient,
  organizationId: string,
  phoneNumberDbId: string,
  waIds: string[],
): Promise<string[]> {
  const contacts = await prisma.contact.createManyAndReturn({
    data: waIds.map((waId) => ({ organizationId, waId })),
    select: { id: true },
  })
  const conversations = await prisma.conversation.createManyAndReturn({
    data: contacts.map((contact) => ({
      organizationId,
      phoneNumberId: phoneNumberDbId,
      contactId: contact.id,
    })),
    select: { id: true },
  })
  const messages = await prisma.message.createManyAndReturn({
    data: conversations.map((conversation) => ({
      organizationId,
      conversationId: conversation.id,
      phoneNumberId: phoneNumberDbId,
      direction: 'OUTBOUND' as const,
      type: 'template',
      content: { name: 'hello_world', language: { code: 'en_US' } },
      templateName: 'hello_world',
      templateLanguage: 'en_US',
      status: 'QUEUED' as const,
    })),
    select: { id: true },
  })
  return messages.map((message) => message.id)
}

export interface RecordingHooks extends OutboundHooks {
  /** Wamids whose overtaking statuses the sender handed on. */
  stored: string[]
}

export function recordingHooks(): RecordingHooks {
  const stored: string[] = []
  return {
    stored,
    async wamidStored(_prisma, wamid) {
      stored.push(wamid)
    },
  }
}

/** The `message.status` events written for a message, oldest first. */
export async function statusEvents(prisma: PrismaClient, messageId: string) {
  const events = await prisma.domainEvent.findMany({
    where: { type: 'message.status', data: { path: ['messageId'], equals: messageId } },
    orderBy: { createdAt: 'asc' },
  })
  return events.map((event) => event.data as { status: string; error?: { code: number | null } })
}

/** An outbound worker in this process, as worker.ts would run it. */
export async function startOutboundWorker(options: {
  prisma: PrismaClient
  /** Typed SQL on the same database (a TestApp's `app.deps.sql`). */
  sql: TypedSql
  /** The test Redis (its URL and the options that trust its CA). */
  redis: Pick<RedisServer, 'url' | 'clientOptions'>
  graphUrl: string
  /** SYNTHETIC_GRAPH_API_BASE_URL of the worker: the one per-number override it honours. */
  syntheticGraphUrl?: string
  hooks: OutboundHooks
  settings?: Partial<MessagingSettings>
  concurrency?: number
}) {
  const settings = { ...DEFAULT_MESSAGING_SETTINGS, ...options.settings }
  const limiterRedis = new Redis(options.redis.url, options.redis.clientOptions)
  const graph = new GraphClient({
    baseUrl: options.graphUrl,
    ...(options.syntheticGraphUrl ? { syntheticBaseUrl: options.syntheticGraphUrl } : {}),
    version: 'v23.0',
    timeoutMs: settings.graphTimeoutMs,
  })
  const processor = createOutboundProcessor({
    prisma: options.prisma,
    sql: options.sql,
    graph,
    limiter: new SendRateLimiter(limiterRedis, {
      pairIntervalMs: settings.pairRateIntervalMs,
      pairBurst: settings.pairRateBurst,
      maxReserveMs: 1_000,
      utilization: settings.outboundRateUtilization,
    }),
    settings,
    encryptionKey: TEST_SECRETS.encryptionKey,
    hooks: options.hooks,
    log: pino({ level: 'silent' }),
  })
  const workerRedis = new Redis(options.redis.url, {
    ...options.redis.clientOptions,
    maxRetriesPerRequest: null,
  })
  const worker = new Worker(OUTBOUND_QUEUE, processor, {
    connection: workerRedis,
    concurrency: options.concurrency ?? 8,
  })
  await worker.waitUntilReady()
  return {
    worker,
    async close() {
      await worker.close()
      await graph.close()
      await Promise.allSettled([limiterRedis.quit(), workerRedis.quit()])
    },
  }
}

/** Polls until `read` returns a value that passes `done` (bounded), and returns it. */
export async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(value)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Settings of the local target for customer webhooks: the test receivers listen on loopback, over http. */
export const LOOPBACK_WEBHOOKS = { customerWebhookAllowLoopback: true, customerWebhookRequireHttps: false }
