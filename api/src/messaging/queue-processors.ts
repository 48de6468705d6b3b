import type { QueueProcessor } from '../worker-context.js'
import { DISPATCH_JOB, WEBHOOK_DELIVERY_QUEUE } from './customer-webhook-queue.js'
import { dispatchPendingEvents } from './event-dispatch.js'
import { GraphClient } from './graph-client.js'
import { messagingSettings } from './messaging-settings.js'
import { serviceOutboundHooks } from './outbound-hooks.js'
import { createOutboundProcessor } from './outbound-processor.js'
import { OUTBOUND_QUEUE } from './outbound-queue.js'
import { SendRateLimiter } from './send-rate-limiter.js'
import { createWebhookDeliveryProcessor } from './webhook-delivery-processor.js'
import type { HostResolver } from './webhook-url-policy.js'

/** How often new domain events are turned into customer webhook deliveries. */
const DISPATCH_EVERY_MS = 500

/**
 * A send held by a worker that died is taken up again once its lock has expired and another worker's
 * stalled check has seen it: at most lockDuration + stalledInterval, 60 s with BullMQ's defaults
 * (30 s + 30 s), 25 s here. The lock is renewed by a timer every lockDuration / 2 = 7.5 s, which only
 * an event loop blocked for seconds could miss (awaiting the Graph call does not). A job wrongly seen
 * as stalled is still sent at most once: the claim token in PostgreSQL fences it.
 *
 * Delay a crash adds to a send, with these defaults:
 * - claimed, call not recorded (the dead worker was waiting for the slot): 25 s to be taken up, then
 *   the claim is taken over and sent with the next slot (≤ 1 s): ≤ ~26 s;
 * - call recorded and made: 25 s, then Meta's status webhook (which echoes our id, usually within
 *   seconds of the call) is looked for every 2 s: ≤ 25 s + the webhook's delay + 2 s, well inside 90 s;
 * - killed in the instant between a call record's commit and the request leaving, or an answer lost
 *   on the way: no evidence either way, so the reconcile window (OUTBOUND_RECONCILE_AFTER_MS) decides
 *   the one resend; never earlier, so that there is no double send.
 * Two recoveries are allowed before BullMQ fails the job, so that one crash during a rollout and
 * another right after do not lose it.
 */
export const OUTBOUND_STALLED_DETECTION = {
  lockDuration: 15_000,
  stalledInterval: 10_000,
  maxStalledCount: 2,
}

/** `wa-outbound`: sends queued messages to the Graph API at Meta's limits. */
export const outboundProcessor: QueueProcessor = {
  queue: OUTBOUND_QUEUE,
  stalled: OUTBOUND_STALLED_DETECTION,
  create(context) {
    const settings = messagingSettings(context.config)
    const graph = new GraphClient({
      baseUrl: context.config.graphApiBaseUrl,
      syntheticBaseUrl: context.config.syntheticGraphApiBaseUrl,
      version: context.config.graphApiVersion,
      timeoutMs: settings.graphTimeoutMs,
    })
    const limiter = new SendRateLimiter(context.connection, {
      pairIntervalMs: settings.pairRateIntervalMs,
      pairBurst: settings.pairRateBurst,
      maxReserveMs: 1_000,
      utilization: settings.outboundRateUtilization,
    })
    return createOutboundProcessor({
      prisma: context.prisma,
      sql: context.sql,
      graph,
      limiter,
      settings,
      encryptionKey: context.config.encryptionKey,
      hooks: serviceOutboundHooks,
      log: context.log.child({ queue: OUTBOUND_QUEUE }),
    })
  },
}

/** `webhook-delivery`: dispatches domain events to endpoints and delivers them, signed. */
export const webhookDeliveryProcessor: QueueProcessor = createWebhookDeliveryQueueProcessor()

/** The webhook-delivery processor, with the resolver of endpoint names given (tests inject one). */
export function createWebhookDeliveryQueueProcessor(
  options: { resolveHost?: HostResolver } = {},
): QueueProcessor {
  return {
    queue: WEBHOOK_DELIVERY_QUEUE,
    create(context) {
      const settings = messagingSettings(context.config)
      const queue = context.queues.get(WEBHOOK_DELIVERY_QUEUE)
      if (!queue) throw new Error(`queue ${WEBHOOK_DELIVERY_QUEUE} is not configured`)
      // One scheduler for every worker process (upsert by id): the dispatch job runs on one of them at a time.
      queue
        .upsertJobScheduler(
          DISPATCH_JOB,
          { every: DISPATCH_EVERY_MS },
          { name: DISPATCH_JOB, opts: { removeOnComplete: true, removeOnFail: 100 } },
        )
        .catch((error: unknown) => context.log.error({ err: error }, 'could not schedule event dispatch'))
      return createWebhookDeliveryProcessor({
        prisma: context.prisma,
        settings,
        encryptionKey: context.config.encryptionKey,
        log: context.log.child({ queue: WEBHOOK_DELIVERY_QUEUE }),
        dispatch: () => dispatchPendingEvents(context.prisma, queue, settings),
        ...(options.resolveHost ? { resolveHost: options.resolveHost } : {}),
      })
    },
  }
}
