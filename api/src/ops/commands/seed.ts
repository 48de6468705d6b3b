import { createPrismaClient } from '../../db/prisma.js'
import { seedDemo } from '../../tenancy/seed-demo.js'
import type { DatabaseTarget } from '../database-target.js'
import { OpsError } from '../ops-errors.js'
import type { OpsLog } from '../output.js'

export interface SeedOptions {
  target: DatabaseTarget
  log: OpsLog
  /** Meta phone_number_id of the demo number (the fake Graph API's number locally). */
  graphPhoneNumberId: string | undefined
  wabaId: string | undefined
  /** Name of the environment variable holding the Graph access token (never passed in argv). */
  accessTokenEnv: string
  displayPhoneNumber?: string
  organizationSlug?: string
  organizationName?: string
  env: NodeJS.ProcessEnv
}

/** ENCRYPTION_KEY exactly as the service reads it: 32 bytes, base64. */
function encryptionKeyOf(env: NodeJS.ProcessEnv): Buffer {
  const value = env.ENCRYPTION_KEY ?? ''
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0)
  if (key.length !== 32)
    throw new OpsError('ENCRYPTION_KEY must be set to the 32-byte base64 key the service uses')
  return key
}

/**
 * The demo tenant (organization, phone number wired to the Graph API given by the flags, fresh API
 * key). The API key appears only in the returned value, i.e. the final JSON line.
 */
export async function seed(options: SeedOptions) {
  if (!options.graphPhoneNumberId) throw new OpsError('missing --phone-number-id <Meta phone_number_id>')
  if (!options.wabaId) throw new OpsError('missing --waba-id <WhatsApp Business Account id>')
  const accessToken = options.env[options.accessTokenEnv]
  if (!accessToken)
    throw new OpsError(`${options.accessTokenEnv} is not set (the Graph access token of the number)`)
  const encryptionKey = encryptionKeyOf(options.env)

  const prisma = createPrismaClient(options.target.url, { maxConnections: 2, caFile: options.target.caFile })
  try {
    const seeded = await seedDemo(prisma, {
      graphPhoneNumberId: options.graphPhoneNumberId,
      wabaId: options.wabaId,
      accessToken,
      encryptionKey,
      displayPhoneNumber: options.displayPhoneNumber,
      organizationSlug: options.organizationSlug,
      organizationName: options.organizationName,
    })
    options.log.info(
      `seed: organization ${seeded.organizationId}, phone number ${seeded.graphPhoneNumberId}, new API key ${seeded.apiKeyId}`,
    )
    return seeded
  } finally {
    await prisma.$disconnect()
  }
}
