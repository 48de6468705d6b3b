import type { LookupAddress } from 'node:dns'
import { describe, expect, it } from 'vitest'
import {
  addressRefusal,
  checkWebhookUrl,
  parseWebhookUrl,
  type WebhookUrlPolicy,
  WebhookUrlRefused,
  webhookConnectLookup,
} from '../../src/messaging/webhook-url-policy.js'

const production: WebhookUrlPolicy = { requireHttps: true, allowLoopback: false }
const local: WebhookUrlPolicy = { requireHttps: false, allowLoopback: true }
const plainHttp: WebhookUrlPolicy = { requireHttps: false, allowLoopback: false }

function refusalOf(url: string, policy: WebhookUrlPolicy): { reason: string; message: string } | null {
  try {
    parseWebhookUrl(url, policy)
    return null
  } catch (error) {
    if (!(error instanceof WebhookUrlRefused)) throw error
    return { reason: error.reason, message: error.message }
  }
}

describe('customer webhook URL rules', () => {
  // [url, policy, reason, words the message must contain]
  const refused: [string, WebhookUrlPolicy, string, string][] = [
    ['http://169.254.169.254/latest/meta-data/', production, 'https-required', 'https'],
    ['https://169.254.169.254/latest/meta-data/', production, 'address-not-allowed', 'metadata'],
    ['http://169.254.169.254/latest/meta-data/', plainHttp, 'address-not-allowed', 'metadata'],
    ['https://[fd00:ec2::254]/', production, 'address-not-allowed', 'metadata'],
    ['https://10.0.0.1/', production, 'address-not-allowed', 'private'],
    ['https://172.16.5.4/', production, 'address-not-allowed', 'private'],
    ['https://192.168.1.1/', production, 'address-not-allowed', 'private'],
    ['https://[::ffff:a9fe:a9fe]/', production, 'address-not-allowed', 'IPv4-mapped'],
    ['http://[::ffff:169.254.169.254]/', plainHttp, 'address-not-allowed', 'IPv4-mapped'],
    // IPv4-mapped loopback stays refused even where loopback is allowed: only the plain forms are.
    ['http://[::ffff:127.0.0.1]/', local, 'address-not-allowed', 'IPv4-mapped'],
    ['https://[::a9fe:a9fe]/', production, 'address-not-allowed', 'IPv4-compatible'],
    ['https://[64:ff9b::a9fe:a9fe]/', production, 'address-not-allowed', 'rfc6052'],
    ['https://[2002:a9fe:a9fe::1]/', production, 'address-not-allowed', '6to4'],
    ['http://2130706433/', plainHttp, 'address-not-allowed', 'loopback'],
    ['https://2130706433/', production, 'address-not-allowed', 'loopback'],
    ['https://0x7f000001/', production, 'address-not-allowed', 'loopback'],
    ['https://017700000001/', production, 'address-not-allowed', 'loopback'],
    ['https://127.1/', production, 'address-not-allowed', 'loopback'],
    ['https://[::1]/', production, 'address-not-allowed', 'loopback'],
    ['http://127.0.0.1:5432/', plainHttp, 'address-not-allowed', 'loopback'],
    ['http://127.0.0.1:6379/', plainHttp, 'address-not-allowed', 'loopback'],
    ['http://127.0.0.1:5432/', production, 'https-required', 'https'],
    ['https://127.0.0.1:6379/', production, 'port-not-allowed', '443'],
    ['https://example.com:8443/hooks', production, 'port-not-allowed', '443'],
    ['https://100.64.0.1/', production, 'address-not-allowed', 'carrier-grade NAT'],
    ['https://0.0.0.0/', production, 'address-not-allowed', 'unspecified'],
    ['https://[::]/', production, 'address-not-allowed', 'unspecified'],
    ['https://224.0.0.1/', production, 'address-not-allowed', 'multicast'],
    ['https://[ff02::1]/', production, 'address-not-allowed', 'multicast'],
    ['https://[fe80::1]/', production, 'address-not-allowed', 'link-local'],
    ['https://[fc00::1]/', production, 'address-not-allowed', 'unique-local'],
    ['https://255.255.255.255/', production, 'address-not-allowed', 'broadcast'],
    ['https://user:pass@example.com/', production, 'credentials-in-url', 'user:password@'],
    ['https://user@example.com/', production, 'credentials-in-url', 'user:password@'],
    ['http://user:pass@127.0.0.1:8080/', local, 'credentials-in-url', 'user:password@'],
    ['ftp://example.com/', local, 'invalid-url', 'https'],
  ]
  for (const [url, policy, reason, words] of refused) {
    it(`refuses ${url} (${reason})`, () => {
      const refusal = refusalOf(url, policy)
      expect(refusal?.reason).toBe(reason)
      expect(refusal?.message).toContain(words)
    })
  }

  it('accepts public unicast addresses, https on 443 and, locally, loopback over http', () => {
    expect(refusalOf('https://93.184.216.34/hooks', production)).toBeNull()
    expect(refusalOf('https://[2606:4700::1111]/hooks', production)).toBeNull()
    expect(refusalOf('https://example.com:443/hooks', production)).toBeNull()
    expect(refusalOf('https://example.com/hooks?x=1', production)).toBeNull()
    expect(refusalOf('http://127.0.0.1:5432/', local)).toBeNull()
    expect(refusalOf('http://[::1]:8080/', local)).toBeNull()
    expect(refusalOf('http://localhost:8080/', local)).toBeNull()
  })

  it('classifies the addresses a name resolves to the same way', () => {
    expect(addressRefusal('169.254.169.254', production)).toMatch(/metadata/)
    expect(addressRefusal('::ffff:169.254.169.254', production)).toMatch(/IPv4-mapped/)
    expect(addressRefusal('10.1.2.3', local)).toMatch(/private/)
    expect(addressRefusal('127.0.0.1', local)).toBeNull()
    expect(addressRefusal('127.0.0.1', production)).toMatch(/loopback/)
    expect(addressRefusal('8.8.8.8', production)).toBeNull()
  })
})

describe('registration check with name resolution', () => {
  const resolver = (answers: Record<string, string[]>) => async (name: string) => {
    const found = answers[name]
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' })
    return found
  }
  const dns = resolver({
    'public.example.test': ['93.184.216.34', '2606:2800:220:1::1'],
    'internal.example.test': ['10.1.2.3'],
    'mixed.example.test': ['93.184.216.34', '169.254.169.254'],
    'empty.example.test': [],
  })

  it('accepts a name whose every address is public', async () => {
    await expect(
      checkWebhookUrl('https://public.example.test/hooks', production, dns),
    ).resolves.toBeUndefined()
  })

  it('refuses a name resolving to a private address, naming it', async () => {
    await expect(checkWebhookUrl('https://internal.example.test/', production, dns)).rejects.toMatchObject({
      reason: 'address-not-allowed',
      message: 'internal.example.test resolves to a private address (10.1.2.3)',
    })
  })

  it('refuses a name when any of its addresses is forbidden', async () => {
    await expect(checkWebhookUrl('https://mixed.example.test/', production, dns)).rejects.toMatchObject({
      reason: 'address-not-allowed',
      message: expect.stringContaining('metadata'),
    })
  })

  it('refuses a name that does not resolve', async () => {
    for (const url of ['https://empty.example.test/', 'https://nowhere.example.test/'])
      await expect(checkWebhookUrl(url, production, dns)).rejects.toMatchObject({ reason: 'unresolvable' })
  })
})

describe('connect-time lookup', () => {
  const lookupOnce = (
    answers: string[],
    options: { all?: boolean; family?: number },
    policy: WebhookUrlPolicy = production,
  ) =>
    new Promise<{ error: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }>(
      (resolve) =>
        webhookConnectLookup(policy, async () => answers)(
          'hooks.example.test',
          options,
          (error, address, family) => resolve({ error, address, family }),
        ),
    )

  it('answers in both shapes net.connect asks for', async () => {
    expect(await lookupOnce(['93.184.216.34', '2606:2800:220:1::1'], { all: true })).toEqual({
      error: null,
      address: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1::1', family: 6 },
      ],
      family: undefined,
    })
    expect(await lookupOnce(['2606:2800:220:1::1', '93.184.216.34'], { family: 4 })).toEqual({
      error: null,
      address: '93.184.216.34',
      family: 4,
    })
  })

  it('fails the connection when the name now resolves to a forbidden address', async () => {
    const { error } = await lookupOnce(['93.184.216.34', '10.0.0.7'], { all: true })
    expect(error?.code).toBe('EWEBHOOKADDRESS')
    expect(error?.message).toContain('private')
    expect((await lookupOnce(['127.0.0.1'], {}, production)).error?.code).toBe('EWEBHOOKADDRESS')
    expect((await lookupOnce(['127.0.0.1'], {}, local)).error).toBeNull()
  })
})
