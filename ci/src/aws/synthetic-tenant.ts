// The synthetic tenant of a stack: one organization the pipeline owns (slug `synthetic-<stack>`), found or
// created through the admin API on every run, so re-runs never duplicate it. Each run gets its own API key,
// minted with an expiry and revoked when the run ends: no long-lived credential is stored anywhere, a key
// that escaped (or a run killed before revoking it) stops working by itself, and two runs never share one.
//
// With a synthetic Graph API (staging), the tenant also owns one phone number whose Graph base URL is that
// fake service (the only override the API accepts, SYNTHETIC_GRAPH_API_BASE_URL), so smoke and load send,
// receive signed webhooks and see deliveries without messaging anybody. Without one (production), the key
// can only read messages: the read-only smoke checks run, nothing is written for the tenant.
import { createHash } from 'node:crypto'
import { AwsTargetError } from './errors.js'

/** Key lifetime: longer than a deploy's smoke and load stages, short enough that a leftover key dies soon. */
export const SYNTHETIC_KEY_TTL_MS = 2 * 60 * 60 * 1000

/** The fake Graph API serves every unregistered number from this WABA (api/src/fake-graph). */
const FAKE_GRAPH_WABA_ID = '100000000000001'

const WRITE_SCOPES = [
  'phone_numbers:read',
  'phone_numbers:write',
  'messages:read',
  'messages:write',
  'conversations:read',
  'contacts:read',
]
const READ_SCOPES = ['messages:read']

export interface SyntheticTenant {
  organizationId: string
  keyId: string
  apiKey: string
  /** Meta phone_number_id of the synthetic number (only with a synthetic Graph API). */
  phoneNumberId?: string
}

export interface SyntheticTenantInput {
  baseUrl: string
  adminToken: string
  stack: string
  runId: string
  /** The stack's synthetic Graph API; absent in production (read-only tenant). */
  syntheticGraphApiBaseUrl?: string
  now: number
  signal?: AbortSignal
  fetch?: typeof fetch
}

export const syntheticSlug = (stack: string) =>
  `synthetic-${stack
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 50)}`

/**
 * A 15-digit phone_number_id derived from the stack name: stable across runs, different per stack (each
 * stack's database, fake Graph API and number are its own), never the "unknown number" id the smoke
 * suite's signature check uses (100000000000000).
 */
export function syntheticPhoneNumberId(stack: string): string {
  const digits = BigInt(`0x${createHash('sha256').update(`synthetic:${stack}`).digest('hex').slice(0, 15)}`)
  return `9${(digits % 10n ** 14n).toString().padStart(14, '0')}`
}

interface Answer {
  status: number
  json: unknown
}

function client(input: Pick<SyntheticTenantInput, 'baseUrl' | 'signal' | 'fetch'>) {
  const call = input.fetch ?? fetch
  return async (
    method: string,
    path: string,
    bearer: string,
    body?: unknown,
    expected: number[] = [200],
  ): Promise<Answer> => {
    let response: Response
    try {
      response = await call(`${input.baseUrl.replace(/\/+$/, '')}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.any([AbortSignal.timeout(15_000), ...(input.signal ? [input.signal] : [])]),
      })
    } catch (error) {
      throw new AwsTargetError(`synthetic tenant: ${method} ${path} failed: ${(error as Error).message}`)
    }
    const text = await response.text()
    let json: unknown
    try {
      json = text ? JSON.parse(text) : undefined
    } catch {
      json = undefined
    }
    if (!expected.includes(response.status)) {
      // The service's error code and message only: requests and answers may carry keys.
      const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
      throw new AwsTargetError(
        `synthetic tenant: ${method} ${path} answered ${response.status}${error ? ` ${String(error.code)}: ${String(error.message)}` : ''}`,
      )
    }
    return { status: response.status, json }
  }
}

/** Finds or creates the stack's synthetic organization, mints this run's key and ensures its phone number. */
export async function ensureSyntheticTenant(input: SyntheticTenantInput): Promise<SyntheticTenant> {
  const http = client(input)
  const slug = syntheticSlug(input.stack)
  const find = async () =>
    (
      (await http('GET', `/api/v1/organizations?slug=${slug}`, input.adminToken)).json as {
        data: { id: string }[]
      }
    ).data[0]
  let organization = await find()
  if (!organization) {
    const created = await http(
      'POST',
      '/api/v1/organizations',
      input.adminToken,
      { name: `Synthetic tenant of the ${input.stack} pipeline`, slug },
      [201, 409],
    )
    // 409: created meanwhile (the deploy lock makes this rare): the one that exists is the one.
    organization = created.status === 201 ? (created.json as { id: string }) : await find()
    if (!organization) throw new AwsTargetError(`synthetic tenant: organization ${slug} vanished`)
  }

  const synthetic = input.syntheticGraphApiBaseUrl
  const issued = (
    await http(
      'POST',
      `/api/v1/organizations/${organization.id}/api-keys`,
      input.adminToken,
      {
        name: `pipeline run ${input.runId}`.slice(0, 100),
        scopes: synthetic ? WRITE_SCOPES : READ_SCOPES,
        expiresAt: new Date(input.now + SYNTHETIC_KEY_TTL_MS).toISOString(),
      },
      [201],
    )
  ).json as { id: string; key: string }
  const tenant: SyntheticTenant = { organizationId: organization.id, keyId: issued.id, apiKey: issued.key }
  if (!synthetic) return tenant

  try {
    tenant.phoneNumberId = await ensurePhoneNumber(http, issued.key, input.stack, synthetic)
  } catch (error) {
    await revokeSyntheticKey(input, tenant).catch(() => undefined)
    throw error
  }
  return tenant
}

async function ensurePhoneNumber(
  http: ReturnType<typeof client>,
  apiKey: string,
  stack: string,
  graphApiBaseUrl: string,
): Promise<string> {
  const phoneNumberId = syntheticPhoneNumberId(stack)
  type Phone = { id: string; phoneNumberId: string; graphApiBaseUrl: string | null; status: string }
  let existing: Phone | undefined
  let cursor: string | undefined
  do {
    const page = (
      await http('GET', `/api/v1/phone-numbers?limit=100${cursor ? `&cursor=${cursor}` : ''}`, apiKey)
    ).json as { data: Phone[]; nextCursor?: string | null }
    existing = page.data.find((phone) => phone.phoneNumberId === phoneNumberId)
    cursor = page.nextCursor ?? undefined
  } while (!existing && cursor)

  if (!existing) {
    await http(
      'POST',
      '/api/v1/phone-numbers',
      apiKey,
      {
        wabaId: FAKE_GRAPH_WABA_ID,
        phoneNumberId,
        displayPhoneNumber: '+1 555 010 0199',
        verifiedName: 'Synthetic tenant',
        // The fake Graph API accepts any token: this one is not a credential.
        accessToken: 'synthetic-graph-token',
        graphApiBaseUrl,
      },
      [201],
    )
  } else if (existing.graphApiBaseUrl !== graphApiBaseUrl || existing.status !== 'ACTIVE') {
    // E.g. the stack's internal namespace changed, or the number was disabled by hand.
    await http('PATCH', `/api/v1/phone-numbers/${existing.id}`, apiKey, {
      graphApiBaseUrl,
      status: 'ACTIVE',
    })
  }
  return phoneNumberId
}

/** Revokes the run's key (the expiry covers a run that never gets here). */
export async function revokeSyntheticKey(
  input: Pick<SyntheticTenantInput, 'baseUrl' | 'adminToken' | 'signal' | 'fetch'>,
  tenant: Pick<SyntheticTenant, 'organizationId' | 'keyId'>,
): Promise<void> {
  await client(input)(
    'DELETE',
    `/api/v1/organizations/${tenant.organizationId}/api-keys/${tenant.keyId}`,
    input.adminToken,
    undefined,
    [204, 404],
  )
}
