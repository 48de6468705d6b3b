import { encryptSecret } from '../crypto/secret-box.js'
import type { PrismaClient } from '../db/prisma.js'
import { issueApiKey } from './api-keys.js'

export interface SeedDemoOptions {
  /** Meta phone_number_id of the demo number (the fake Graph API's number locally). */
  graphPhoneNumberId: string
  wabaId: string
  /** Graph access token of the number; stored encrypted. */
  accessToken: string
  /** ENCRYPTION_KEY of the service that will read the token (32 bytes). */
  encryptionKey: Buffer
  displayPhoneNumber?: string
  organizationName?: string
  organizationSlug?: string
  throughputMps?: number
}

export interface SeedDemoResult {
  organizationId: string
  /** Plaintext of a newly issued key (only its hash is stored). */
  apiKey: string
  apiKeyId: string
  /** PhoneNumber.id */
  phoneNumberId: string
  graphPhoneNumberId: string
}

/**
 * The demo tenant: organization (by slug), its phone number (by Meta id, credentials refreshed) and a
 * fresh API key. Safe to run again: the organization and number are reused, earlier keys stay valid.
 */
export async function seedDemo(prisma: PrismaClient, options: SeedDemoOptions): Promise<SeedDemoResult> {
  const slug = options.organizationSlug ?? 'demo'
  const organization = await prisma.organization.upsert({
    where: { slug },
    create: { slug, name: options.organizationName ?? 'Demo organization' },
    update: {},
  })
  const existing = await prisma.phoneNumber.findUnique({
    where: { phoneNumberId: options.graphPhoneNumberId },
  })
  if (existing && existing.organizationId !== organization.id)
    throw new Error(`phone number ${options.graphPhoneNumberId} already belongs to another organization`)
  const fields = {
    wabaId: options.wabaId,
    displayPhoneNumber: options.displayPhoneNumber ?? '+1 555 010 0000',
    accessTokenEnc: encryptSecret(options.accessToken, options.encryptionKey),
    throughputMps: options.throughputMps ?? 80,
    status: 'ACTIVE' as const,
    deletedAt: null,
  }
  const phone = await prisma.phoneNumber.upsert({
    where: { phoneNumberId: options.graphPhoneNumberId },
    create: { organizationId: organization.id, phoneNumberId: options.graphPhoneNumberId, ...fields },
    update: fields,
  })
  const key = await issueApiKey(prisma, { organizationId: organization.id, name: 'demo' })
  return {
    organizationId: organization.id,
    apiKey: key.key,
    apiKeyId: key.id,
    phoneNumberId: phone.id,
    graphPhoneNumberId: phone.phoneNumberId,
  }
}
