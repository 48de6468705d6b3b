import { createHmac, timingSafeEqual } from 'node:crypto'

const HEADER_PATTERN = /^sha256=([0-9a-fA-F]{64})$/

/**
 * Checks X-Hub-Signature-256 (`sha256=<hex HMAC-SHA256(appSecret, rawBody)>`) over the exact bytes
 * received. Missing, malformed (other algorithm, non-hex, wrong length) and wrong signatures all fail;
 * the comparison is constant-time over equal-length digests.
 */
export function isValidMetaSignature(
  rawBody: Buffer,
  header: string | undefined,
  appSecret: string,
): boolean {
  if (typeof header !== 'string') return false
  const match = HEADER_PATTERN.exec(header.trim())
  if (!match) return false
  const expected = createHmac('sha256', appSecret).update(rawBody).digest()
  const given = Buffer.from(match[1]!, 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected)
}
