import { createHash, timingSafeEqual } from 'node:crypto'

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Constant-time equality of two strings. Both sides are hashed first, so the comparison also takes the
 * same time whatever their lengths (timingSafeEqual alone throws on, and so reveals, a length mismatch).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest()
  const right = createHash('sha256').update(b).digest()
  return timingSafeEqual(left, right)
}
