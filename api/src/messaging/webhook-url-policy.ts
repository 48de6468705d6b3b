import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'

/**
 * Where customer webhooks may go. A tenant chooses the URL, and the worker that POSTs to it sits inside
 * the VPC next to the database, Redis and the cloud metadata service: without these rules a webhook
 * endpoint is a server-side request forgery.
 *
 * The address rules hold twice: when the endpoint is registered (for a clear 422), and when the worker
 * connects, on the very address the socket connects to (webhookConnectLookup), so a name that resolves
 * to a public address at registration and to a private one later (DNS rebinding) is still refused.
 */
export interface WebhookUrlPolicy {
  /** `https` on port 443 only (CUSTOMER_WEBHOOK_REQUIRE_HTTPS): the tasks' egress allows TCP 443 and nothing else. */
  requireHttps: boolean
  /** Loopback destinations allowed (CUSTOMER_WEBHOOK_ALLOW_LOOPBACK): only for the local target and tests. */
  allowLoopback: boolean
}

/** Every address a name resolves to (both families), as `dns.lookup(name, { all: true })` answers. */
export type HostResolver = (hostname: string) => Promise<string[]>

export const systemResolver: HostResolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses.map((a) => a.address)),
    ),
  )

export type WebhookUrlRefusalReason =
  | 'invalid-url'
  | 'https-required'
  | 'port-not-allowed'
  | 'credentials-in-url'
  | 'address-not-allowed'
  | 'unresolvable'

export class WebhookUrlRefused extends Error {
  constructor(
    readonly reason: WebhookUrlRefusalReason,
    message: string,
  ) {
    super(message)
    this.name = 'WebhookUrlRefused'
  }
}

// The instance metadata services of AWS (IPv4 and the Nitro IPv6 endpoint); named in the refusal.
const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254'])
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96')

const RANGE_NAMES: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  linkLocal: 'a link-local address',
  uniqueLocal: 'a unique-local address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  unspecified: 'an unspecified address',
  carrierGradeNat: 'a carrier-grade NAT address',
  ipv4Mapped: 'an IPv4-mapped IPv6 address',
}

/**
 * What forbids an IP address to receive webhooks ("a private address"), or null when it may. Classification is ipaddr.js's
 * (IANA special-purpose registries); only its `unicast` range is allowed, so every special range it
 * knows (documentation, benchmarking, NAT64, 6to4, Teredo, ...) is refused along with the private ones.
 */
export function addressRefusal(address: string, policy: WebhookUrlPolicy): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6
  try {
    parsed = ipaddr.parse(address)
  } catch {
    return 'not an IP address'
  }
  if (METADATA_ADDRESSES.has(parsed.toString())) return 'the cloud metadata address'
  const range = parsed.range()
  if (range === 'unicast') {
    // ipaddr.js counts the deprecated IPv4-compatible form (::a.b.c.d) as global unicast; it embeds an
    // IPv4 address (::1 and :: are classified loopback and unspecified before this).
    if (parsed.kind() === 'ipv6' && parsed.match(IPV4_COMPATIBLE)) return 'an IPv4-compatible IPv6 address'
    return null
  }
  if (range === 'loopback' && policy.allowLoopback) return null
  return RANGE_NAMES[range] ?? `a special-purpose address (${range})`
}

/** The URL's syntax rules (scheme, port, credentials, literal addresses); names are resolved by the callers. */
export function parseWebhookUrl(raw: string, policy: WebhookUrlPolicy): { url: URL; literal: string | null } {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new WebhookUrlRefused('invalid-url', 'the URL is not valid')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new WebhookUrlRefused(
      'invalid-url',
      policy.requireHttps ? 'the URL must use https' : 'the URL must use http or https',
    )
  if (url.username !== '' || url.password !== '')
    throw new WebhookUrlRefused('credentials-in-url', 'the URL must not contain user:password@')
  if (policy.requireHttps) {
    if (url.protocol !== 'https:') throw new WebhookUrlRefused('https-required', 'the URL must use https')
    // The WHATWG parser drops the default port, so ":443" and no port both leave `port` empty.
    if (url.port !== '') throw new WebhookUrlRefused('port-not-allowed', 'only port 443 is allowed')
  }
  // The WHATWG parser already rewrote integer, octal and hex IPv4 forms (http://2130706433/) to dotted form.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const literal = isIP(host) ? host : null
  if (literal) {
    const refusal = addressRefusal(literal, policy)
    if (refusal) throw new WebhookUrlRefused('address-not-allowed', `${literal} is ${refusal}`)
  }
  return { url, literal }
}

/**
 * The registration check: the URL's rules, then every address its name resolves to now. A name that
 * does not resolve is refused too: nothing could be delivered to it.
 */
export async function checkWebhookUrl(
  raw: string,
  policy: WebhookUrlPolicy,
  resolve: HostResolver,
): Promise<void> {
  const { url, literal } = parseWebhookUrl(raw, policy)
  if (literal) return
  let addresses: string[]
  try {
    addresses = await resolve(url.hostname)
  } catch {
    addresses = []
  }
  if (addresses.length === 0)
    throw new WebhookUrlRefused('unresolvable', `${url.hostname} does not resolve to an address`)
  for (const address of addresses) {
    const refusal = addressRefusal(address, policy)
    if (refusal)
      throw new WebhookUrlRefused(
        'address-not-allowed',
        `${url.hostname} resolves to ${refusal} (${address})`,
      )
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void

/**
 * A `lookup` for net/tls.connect (undici's `connect` options): resolves with `resolve` and fails the
 * connection when any answer is forbidden, so the address checked is the address connected to.
 */
export function webhookConnectLookup(policy: WebhookUrlPolicy, resolve: HostResolver = systemResolver) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: LookupCallback,
  ) => {
    resolve(hostname).then(
      (addresses) => {
        const refused = addresses.find((a) => addressRefusal(a, policy) !== null)
        if (addresses.length === 0 || refused) {
          const error: NodeJS.ErrnoException = new WebhookUrlRefused(
            refused ? 'address-not-allowed' : 'unresolvable',
            refused
              ? `${hostname} resolves to ${addressRefusal(refused, policy)} (${refused})`
              : `${hostname} does not resolve to an address`,
          )
          error.code = 'EWEBHOOKADDRESS'
          return callback(error, options.all ? [] : '')
        }
        const answers = addresses.map((address) => ({ address, family: isIP(address) }))
        const wanted = Number(options.family) || 0
        const usable = wanted ? answers.filter((a) => a.family === wanted) : answers
        if (options.all) return callback(null, usable)
        const first = usable[0]
        if (!first) {
          const error: NodeJS.ErrnoException = new Error(`${hostname} has no IPv${wanted} address`)
          error.code = 'ENOTFOUND'
          return callback(error, '')
        }
        callback(null, first.address, first.family)
      },
      (error: NodeJS.ErrnoException) => callback(error, options.all ? [] : ''),
    )
  }
}
