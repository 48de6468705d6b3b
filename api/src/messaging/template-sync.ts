import { decryptSecret } from '../crypto/secret-box.js'
import type { PrismaClient } from '../db/prisma.js'
import type { Prisma } from '../generated/prisma/client.js'
import type { GraphClient } from './graph-client.js'

export interface TemplateSyncResult {
  wabaId: string
  templates: number
}

/**
 * Pulls every template of each WABA the organization's numbers belong to and upserts them by
 * (wabaId, name, language). Templates belong to the WABA, so one number's token reads them all.
 */
export async function syncTemplates(
  prisma: PrismaClient,
  graph: GraphClient,
  encryptionKey: Buffer,
  organizationId: string,
): Promise<TemplateSyncResult[]> {
  const numbers = await prisma.phoneNumber.findMany({
    where: { organizationId, deletedAt: null, status: 'ACTIVE' },
    select: { wabaId: true, accessTokenEnc: true, graphApiBaseUrl: true },
    orderBy: { createdAt: 'asc' },
  })
  const numberByWaba = new Map<string, (typeof numbers)[number]>()
  for (const n of numbers) if (!numberByWaba.has(n.wabaId)) numberByWaba.set(n.wabaId, n)

  const results: TemplateSyncResult[] = []
  for (const [wabaId, number] of numberByWaba) {
    const templates = await graph.listTemplates(
      wabaId,
      decryptSecret(number.accessTokenEnc, encryptionKey),
      undefined,
      number.graphApiBaseUrl,
    )
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
