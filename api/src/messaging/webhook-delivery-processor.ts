import { type Job, type Processor, UnrecoverableError } from 'bullmq'
import type { Logger } from 'pino'
import { Agent, request } from 'undici'
import { decryptSecret } from '../crypto/secret-box.js'
import type { PrismaClient } from '../db/prisma.js'
import { type DeliverJobData, DISPATCH_JOB } from './customer-webhook-queue.js'
import { signedHeaders } from './customer-webhook-signing.js'
import { type MessagingSettings, webhookUrlPolicy } from './messaging-settings.js'
import {
  type HostResolver,
  parseWebhookUrl,
  systemResolver,
  WebhookUrlRefused,
  webhookConnectLookup,
} from './webhook-url-policy.js'

export interface WebhookDeliveryDeps {
  prisma: PrismaClient
  settings: MessagingSettings
  encryptionKey: Buffer
  log: Logger
  /** Runs the outbox dispatch (DISPATCH_JOB). */
  dispatch(): Promise<number>
  /** Resolves endpoint names when connecting (tests inject one); the system resolver by default. */
  resolveHost?: HostResolver
}

// What the tenant's delivery log may say about a failure that happened before any answer. The worker
// sits inside the private network: "refused" versus "timed out" versus "reset" would let a tenant map
// which internal hosts and ports are open, so every connection failure reads the same.
export const CONNECTION_FAILED = 'connection failed'
export const DESTINATION_NOT_ALLOWED = 'destination address not allowed'

/** Raised for a non-2xx answer or a network error: BullMQ retries the job with backoff. */
class DeliveryAttemptFailed extends Error {}

/**
 * Processor of the webhook-delivery queue: DISPATCH_JOB turns new domain events into deliveries;
 * every other job POSTs one delivery to its endpoint, signed per Standard Webhooks, logs the attempt,
 * and throws on failure so that BullMQ retries it (exponential backoff with jitter, same webhook-id).
 */
export function createWebhookDeliveryProcessor(deps: WebhookDeliveryDeps): Processor {
  const { prisma, settings } = deps
  const policy = webhookUrlPolicy(settings)
  // Customer endpoints are many origins with few requests each: a small pool per origin. Every name is
  // resolved by the policy's lookup, which refuses forbidden answers: the address checked is the one
  // connected to. undici follows no redirects (a 3xx is a failed attempt), so no other host is reached.
  const agent = new Agent({
    connections: 4,
    keepAliveTimeout: 10_000,
    connect: { lookup: webhookConnectLookup(policy, deps.resolveHost ?? systemResolver) },
  })

  return async (job: Job) => {
    if (job.name === DISPATCH_JOB) return { dispatched: await deps.dispatch() }
    const { deliveryId } = job.data as DeliverJobData
    const delivery = await prisma.webhookDelivery.findUnique({
      where: { id: deliveryId },
      include: { endpoint: true },
    })
    if (!delivery) return 'missing'
    if (delivery.status === 'SUCCEEDED') return 'done-already'
    const { endpoint } = delivery
    if (!endpoint.enabled) {
      await prisma.webhookDelivery.update({
        where: { id: delivery.id },
        data: { status: 'FAILED', nextAttemptAt: null, lastError: 'endpoint disabled' },
      })
      throw new UnrecoverableError('endpoint disabled')
    }

    const body = JSON.stringify(delivery.payload)
    const headers = signedHeaders(
      decryptSecret(endpoint.secretEnc, deps.encryptionKey),
      delivery.eventId,
      body,
    )
    const attempt = delivery.attempts + 1
    const started = performance.now()
    let statusCode: number | undefined
    let error: string | undefined
    try {
      // IP literals never reach a lookup: their address is checked here, as are the URL's other rules
      // (the endpoint may predate them, or the settings may have changed since it was registered).
      parseWebhookUrl(endpoint.url, policy)
      const response = await request(endpoint.url, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', 'user-agent': 'whatsapp-saas-webhooks/1', ...headers },
        body,
        headersTimeout: settings.customerWebhookTimeoutMs,
        bodyTimeout: settings.customerWebhookTimeoutMs,
      })
      statusCode = response.statusCode
      await response.body.dump({ limit: 64 * 1024 })
      if (statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EWEBHOOKADDRESS') error = DESTINATION_NOT_ALLOWED
      else if (e instanceof WebhookUrlRefused) error = `url refused: ${e.message}`
      else error = CONNECTION_FAILED
      // The details stay in the operators' log.
      deps.log.info(
        { endpointId: endpoint.id, deliveryId: delivery.id, err: e },
        `customer webhook: ${error}`,
      )
    }
    const durationMs = Math.round(performance.now() - started)
    const succeeded = error === undefined
    // BullMQ stops after maxAttempts (job option); a manual retry restarts the count from here.
    const lastAttempt = !succeeded && job.attemptsMade + 1 >= (job.opts.attempts ?? 1)

    await prisma.$transaction(async (tx) => {
      await tx.webhookDeliveryAttempt.create({
        data: {
          deliveryId: delivery.id,
          attempt,
          statusCode: statusCode ?? null,
          error: error ?? null,
          durationMs,
        },
      })
      await tx.webhookDelivery.update({
        where: { id: delivery.id },
        data: {
          attempts: attempt,
          lastStatusCode: statusCode ?? null,
          lastError: error ?? null,
          status: succeeded ? 'SUCCEEDED' : lastAttempt ? 'FAILED' : 'PENDING',
          deliveredAt: succeeded ? new Date() : null,
          nextAttemptAt:
            succeeded || lastAttempt ? null : new Date(Date.now() + estimateBackoff(job, settings)),
        },
      })
      if (succeeded) {
        await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: { consecutiveFailures: 0 } })
        return
      }
      const updated = await tx.webhookEndpoint.update({
        where: { id: endpoint.id },
        data: { consecutiveFailures: { increment: 1 } },
        select: { consecutiveFailures: true, enabled: true },
      })
      if (updated.enabled && updated.consecutiveFailures >= settings.customerWebhookDisableAfter) {
        await tx.webhookEndpoint.update({
          where: { id: endpoint.id },
          data: {
            enabled: false,
            disabledAt: new Date(),
            disabledReason: `${updated.consecutiveFailures} consecutive failed deliveries (last: ${error})`,
          },
        })
        deps.log.warn(
          { endpointId: endpoint.id },
          'customer webhook endpoint disabled after consecutive failures',
        )
      }
    })
    if (!succeeded) throw new DeliveryAttemptFailed(error)
    return { statusCode, durationMs }
  }
}

/** The delay BullMQ will apply before the next attempt (for display; BullMQ adds up to 50 % jitter). */
function estimateBackoff(job: Job, settings: MessagingSettings): number {
  return settings.customerWebhookRetryBaseMs * 2 ** job.attemptsMade
}
