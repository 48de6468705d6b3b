import type { Redis } from 'ioredis'
import { sha256Hex } from '../crypto/digest.js'
import type { VerifiedApiKey } from './api-keys.js'

/** Bumped by every revocation; each process drops its cached keys when it sees a new value. */
export const API_KEY_REVOCATION_VERSION_KEY = 'apikeys:revocation-version'

export interface ApiKeyCacheOptions {
  /** How long a verified key is served from memory at most. */
  ttlMs?: number
  /** How often the revocation version is read from Redis; revocation reaches this process within it. */
  pollMs?: number
  maxEntries?: number
}

interface Entry {
  key: VerifiedApiKey
  expiresAt: Date | null
  cachedUntil: number
}

/**
 * Verified API keys held in process for a short time, so that an authenticated request costs no
 * database round trip. Only keys that verified are held, under the SHA-256 of the whole plaintext
 * (a lookup by that hash is as strong as the database's own check). Revocation in any process bumps
 * a version number in Redis (announceApiKeyRevocation); every process reads it every `pollMs` (one
 * GET, not one per request) and forgets everything when it changed. When Redis cannot be read the
 * cache is emptied and stays unused until it can: a revocation could be missed meanwhile.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>()
  private readonly ttlMs: number
  private readonly pollMs: number
  private readonly maxEntries: number
  private version: string | null | undefined
  /** Bumped by every clear(): a verification that began before a clear must not refill the cache. */
  private generation = 0
  private usable = false
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> | undefined

  constructor(
    private readonly redis: Redis,
    options: ApiKeyCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 30_000
    this.pollMs = options.pollMs ?? 250
    this.maxEntries = options.maxEntries ?? 10_000
  }

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => {
      this.polling ??= this.poll().finally(() => {
        this.polling = undefined
      })
    }, this.pollMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.polling
    this.clear()
  }

  /** Reads the revocation version; a change, or a failure to read it, empties the cache. */
  async poll(): Promise<void> {
    try {
      const version = await this.redis.get(API_KEY_REVOCATION_VERSION_KEY)
      if (version !== this.version) this.clear()
      this.version = version
      this.usable = true
    } catch {
      this.usable = false
      this.clear()
    }
  }

  get(plaintext: string, now = Date.now()): VerifiedApiKey | undefined {
    if (!this.usable) return undefined
    const hash = sha256Hex(plaintext)
    const entry = this.entries.get(hash)
    if (!entry) return undefined
    if (entry.cachedUntil <= now || (entry.expiresAt && entry.expiresAt.getTime() <= now)) {
      this.entries.delete(hash)
      return undefined
    }
    return entry.key
  }

  /** Taken before reading a key from the database, handed to set() with what was read. */
  snapshot(): number {
    return this.generation
  }

  set(
    plaintext: string,
    key: VerifiedApiKey,
    expiresAt: Date | null,
    generation: number,
    now = Date.now(),
  ): void {
    if (!this.usable || generation !== this.generation) return
    if (this.entries.size >= this.maxEntries) this.clear()
    this.entries.set(sha256Hex(plaintext), { key, expiresAt, cachedUntil: now + this.ttlMs })
  }

  clear(): void {
    this.generation += 1
    this.entries.clear()
  }
}

/**
 * What every path that revokes, expires early or deletes API keys calls once its change is committed:
 * the local cache forgets at once, the other processes within their poll interval.
 */
export async function announceApiKeyRevocation(redis: Redis, localCache?: ApiKeyCache): Promise<void> {
  localCache?.clear()
  await redis.incr(API_KEY_REVOCATION_VERSION_KEY)
}
