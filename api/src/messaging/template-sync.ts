import { decryptSecret } from '../crypto/secret-box.js'
import type { PrismaClient } from '../db/prisma.js'
import type { Prisma } from '../generated/prisma/client.js'
import type { GraphClient } from './graph-client.js'

export interface TemplateSyncResult {
  wabaId: string
  templates: number
}

/** The sync's deadline passed: `synced` WABAs are stored (each in its own transaction), the others are untouched. */
export class TemplateSyncDeadlineError extends Error {
  constructor(
    readonly deadlineMs: number,
    readonly synced: TemplateSyncResult[],
    readonly pending: string[],
  ) {
    super(
      `template sync did not finish within ${deadlineMs} ms: ${synced.length} WABA(s) synced, ` +
        `${pending.length} not synced (${pending.join(', ')})`,
    )
    this.name = 'TemplateSyncDeadlineError'
  }
}

/**
 * Pulls every template of each WABA the organization's numbers belong to and upserts them by
 * (wabaId, name, language). Templates belong to the WABA, so one number's token reads them all.
 * The whole sync ends within `deadlineMs`: past it, TemplateSyncDeadlineError names what was synced.
 */
export async function syncTemplates(
  prisma: PrismaClient,
  graph: GraphClient,
  encryptionKey: Buffer,
  organizationId: string,
  deadlineMs: number,
): Promise<TemplateSyncResult[]> {
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(), deadlineMs)
  try {
    return await syncWithin(prisma, graph, encryptionKey, organizationId, deadline.signal, deadlineMs)
  } finally {
    clearTimeout(timer)
  }
}

async function syncWithin(
  prisma: PrismaClient,
  graph: GraphClient,
  encryptionKey: Buffer,
  organizationId: string,
  signal: AbortSignal,
  deadlineMs: number,
): Promise<TemplateSyncResult[]> {
  const numbers = await prisma.phoneNumber.findMany({
    where: { organizationId, deletedAt: null, status: 'ACTIVE' },
    select: { wabaId: true, accessTokenEnc: true, graphApiBaseUrl: true },
    orderBy: { createdAt: 'asc' },
  })
  const numberByWaba = new Map<string, (typeof numbers)[number]>()
  for (const n of numbers) if (!numberByWaba.has(n.wabaId)) numberByWaba.set(n.wabaId, n)

  const results: TemplateSyncResult[] = []
  const expired = () =>
    new TemplateSyncDeadlineError(
      deadlineMs,
      results,
      [...numberByWaba.keys()].filter((id) => !results.some((r) => r.wabaId === id)),
    )
  // Rejects when the deadline passes, whatever the Graph call is waiting on (a request still queued in
  // the HTTP client's pool is out of reach of its own timeouts and of the abort signal).
  const deadlinePassed = new Promise<never>((_, reject) => {
    const fail = () => reject(expired())
    if (signal.aborted) fail()
    else signal.addEventListener('abort', fail, { once: true })
  })
  deadlinePassed.catch(() => {})
  for (const [wabaId, number] of numberByWaba) {
    if (signal.aborted) throw expired()
    const templates = await Promise.race([
      graph.listTemplates(
        wabaId,
        decryptSecret(number.accessTokenEnc, encryptionKey),
        undefined,
        number.graphApiBaseUrl,
        signal,
      ),
      deadlinePassed,
    ])
    const syncedAt = new Date()
    // One transaction per WABA: a failure halfway leaves the previous sync intact.
    await prisma.$transaction(
      templates.map((t) => {
        const fields = {
          metaTemplateId: t.id,
          category: t.category,
          status: t.status,
          components: (t.components ?? []) as Prisma.InputJsonValue,
          rejectedReason: t.rejected_reason ?? null,
          syncedAt,
        }
        return prisma.template.upsert({
          where: { wabaId_name_language: { wabaId, name: t.name, language: t.language } },
          create: { organizationId, wabaId, name: t.name, language: t.language, ...fields },
          update: fields,
        })
      }),
    )
    results.push({ wabaId, templates: templates.length })
  }
  return results
}
