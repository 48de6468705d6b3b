import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { maintenanceProcessor, PRUNE_JOB, pruneHistory } from '../../src/maintenance/retention.js'
import { QUEUE_NAMES } from '../../src/queues/names.js'
import { type RunningWorkers, startWorkers } from '../../src/worker-runtime.js'
import {
  startTestEnvironment,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from '../harness/index.js'
import { waitFor } from '../messaging/fixtures.js'

const DAY_MS = 24 * 60 * 60 * 1000
let env: TestEnvironment
let t: TestApp
let tenant: TestTenant

beforeAll(async () => {
  env = await startTestEnvironment()
  t = await env.startApp()
  tenant = await t.createTenant()
}, 120_000)
afterAll(async () => {
  await t?.close()
  await env?.stop()
})

/** One row of each kind on either side of the cutoff, finished or not; returns their ids by label. */
async function seedHistory(tag: string) {
  const old = new Date(Date.now() - 40 * DAY_MS)
  const recent = new Date(Date.now() - 1 * DAY_MS)
  const webhook = (label: string, processedAt: Date | null, receivedAt: Date) =>
    t.prisma.inboundWebhook.create({
      data: { bodySha256: `${tag}-${label}`, raw: {}, processedAt, receivedAt },
    })
  const event = (dispatchedAt: Date | null, createdAt: Date) =>
    t.prisma.domainEvent.create({
      data: {
        organizationId: tenant.organizationId,
        type: 'message.status',
        data: {},
        dispatchedAt,
        createdAt,
      },
    })
  const endpoint = await t.prisma.webhookEndpoint.create({
    data: { organizationId: tenant.organizationId, url: 'https://example.com/h', secretEnc: 'x', events: [] },
  })
  const delivery = (label: string, status: 'PENDING' | 'SUCCEEDED' | 'FAILED', updatedAt: Date) =>
    t.prisma.webhookDelivery.create({
      data: {
        endpointId: endpoint.id,
        eventId: `${tag}-${label}`,
        eventType: 'message.status',
        payload: {},
        status,
        updatedAt,
        attemptLog: { create: [{ attempt: 1, durationMs: 5, statusCode: 500 }] },
      },
    })
  return {
    gone: [
      (await webhook('old-processed', old, old)).id,
      (await event(old, old)).id,
      (await delivery('old-succeeded', 'SUCCEEDED', old)).id,
      (await delivery('old-failed', 'FAILED', old)).id,
    ],
    kept: [
      (await webhook('old-unprocessed', null, old)).id,
      (await webhook('recent-processed', recent, recent)).id,
      (await event(null, old)).id,
      (await event(recent, recent)).id,
      (await delivery('old-pending', 'PENDING', old)).id,
      (await delivery('recent-succeeded', 'SUCCEEDED', recent)).id,
    ],
  }
}

async function existing(ids: string[]): Promise<string[]> {
  const [webhooks, events, deliveries] = await Promise.all([
    t.prisma.inboundWebhook.findMany({ where: { id: { in: ids } }, select: { id: true } }),
    t.prisma.domainEvent.findMany({ where: { id: { in: ids } }, select: { id: true } }),
    t.prisma.webhookDelivery.findMany({ where: { id: { in: ids } }, select: { id: true } }),
  ])
  return [...webhooks, ...events, ...deliveries].map((row) => row.id).sort()
}

describe('history retention', () => {
  it('deletes only finished rows older than the cutoff, in batches, with delivery attempts', async () => {
    const { gone, kept } = await seedHistory('batch')
    // A batch of one row per statement: every table needs several rounds.
    const pruned = await pruneHistory(t.prisma, new Date(Date.now() - 30 * DAY_MS), 1)
    expect(pruned).toEqual({ inboundWebhooks: 1, domainEvents: 1, webhookDeliveries: 2 })
    expect(await existing([...gone, ...kept])).toEqual([...kept].sort())
    expect(await t.prisma.webhookDeliveryAttempt.count({ where: { deliveryId: { in: gone } } })).toBe(0)
    expect(await pruneHistory(t.prisma, new Date(Date.now() - 30 * DAY_MS))).toEqual({
      inboundWebhooks: 0,
      domainEvents: 0,
      webhookDeliveries: 0,
    })
  })

  it('runs in the worker on a shared hourly schedule with HISTORY_RETENTION_DAYS', async () => {
    const { gone, kept } = await seedHistory('worker')
    let workers: RunningWorkers | undefined
    try {
      workers = await startWorkers(env.config({ databaseUrl: t.databaseUrl, historyRetentionDays: 30 }), [
        maintenanceProcessor,
      ])
      const queue = workers.context.queues.get(QUEUE_NAMES.maintenance)!
      const schedulers = await waitFor(
        () => queue.getJobSchedulers(),
        (list) => list.length > 0,
      )
      expect(schedulers).toEqual([expect.objectContaining({ key: PRUNE_JOB, every: 60 * 60 * 1000 })])
      await queue.add(PRUNE_JOB, {})
      await waitFor(
        () => existing(gone),
        (left) => left.length === 0,
      )
      expect(await existing(kept)).toEqual([...kept].sort())
    } finally {
      await workers?.close()
    }
  })
})
