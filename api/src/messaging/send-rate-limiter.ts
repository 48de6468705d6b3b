import type { Redis } from 'ioredis'

/**
 * Meta's send limits held across every worker process, in Redis (docs/whatsapp-cloud-api.md §1.7, §3.4):
 * - per phone number: `throughputMps` messages per second (inbound and outbound share it);
 * - per business/user pair: one message per `pairIntervalMs` after a burst of `pairBurst`;
 * - a pause key set after Meta answers 130429/131048, which stops the number for a while.
 *
 * Hand-written Lua GCRA (generic cell rate algorithm, a token bucket kept as one timestamp) because
 * the maintained Node libraries either keep state per process (bottleneck's local store, BullMQ's
 * group limits are a paid feature) or count fixed windows in Redis (rate-limiter-flexible), which
 * let up to twice the rate through around a window edge: Meta counts per rolling second. One script
 * checks all buckets of a send atomically, so a send never takes a per-number slot and then waits
 * on its pair bucket. Time comes from Redis (`TIME`), the one clock every process shares.
 *
 * A send whose slot is at most `maxReserveMs` away reserves it (the caller sleeps until then); a
 * longer wait reserves nothing and the caller reschedules the job. A slot is never nearer than the
 * `leadMs` asked for: the time the caller needs before it can call (the answer's way back, writing
 * its call record), so that a slot granted for "now" is not already past when the caller gets it.
 */
const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = redis.call('PTTL', KEYS[1])
if pause > 0 then return {0, pause, math.floor(now / 1000)} end
local maxReserve = tonumber(ARGV[1]) * 1000
local earliest = now + tonumber(ARGV[2]) * 1000
local wait = earliest - now
local tats = {}
for i = 2, #KEYS do
  local interval = tonumber(ARGV[i * 2 - 1])
  local burst = tonumber(ARGV[i * 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < earliest then tat = earliest end
  local allowAt = tat - interval * (burst - 1)
  if allowAt - now > wait then wait = allowAt - now end
  tats[i] = tat + interval
end
if wait > maxReserve then return {0, math.ceil(wait / 1000), math.floor(now / 1000)} end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], tostring(tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
end
return {1, math.ceil(wait / 1000), math.floor(now / 1000)}
`

export interface SendSlot {
  /** True when the slot is reserved: send after `waitMs`. False: nothing reserved, retry after `waitMs`. */
  reserved: boolean
  waitMs: number
  /** Redis time of the decision (epoch ms): the slot is at `decidedAtMs + waitMs`. */
  decidedAtMs: number
}

export interface SendRateLimiterOptions {
  pairIntervalMs: number
  pairBurst: number
  /** Longest wait the caller is willing to sleep for a reserved slot. */
  maxReserveMs: number
  /**
   * Fraction of throughputMps actually scheduled: the margin absorbs the jitter between the moment
   * a slot is granted and the moment the request reaches Meta, so that no rolling second at Meta
   * sees more than the limit.
   */
  utilization: number
}

// Keys of one number share a hash tag, so the script's keys live in one slot of a Redis cluster.
const numberTag = (phoneNumberId: string) => `{pn:${phoneNumberId}}`

export class SendRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly options: SendRateLimiterOptions,
  ) {
    if (!redis.gcraAcquire) redis.defineCommand('gcraAcquire', { lua: GCRA_LUA })
  }

  /** Takes a send slot for `phoneNumberId` → `recipient` (both buckets and the pause key at once). */
  async acquire(
    phoneNumberId: string,
    recipient: string,
    throughputMps: number,
    leadMs = 0,
  ): Promise<SendSlot> {
    const [reserved, waitMs, decidedAtMs] = (await this.redis.gcraAcquire(
      ...this.acquireArgs({ phoneNumberId, recipient, throughputMps }, leadMs),
    )) as [number, number, number]
    return { reserved: reserved === 1, waitMs, decidedAtMs }
  }

  /**
   * Slots for many sends in one round trip (a pipeline of the same script, one call per send, in
   * order: each send is still decided atomically, and a later one sees the slots of the earlier).
   */
  async acquireMany(
    sends: ReadonlyArray<{ phoneNumberId: string; recipient: string; throughputMps: number }>,
    leadMs = 0,
  ): Promise<SendSlot[]> {
    const pipeline = this.redis.pipeline()
    for (const send of sends) pipeline.gcraAcquire(...this.acquireArgs(send, leadMs))
    const answers = (await pipeline.exec()) ?? []
    return answers.map(([error, answer]) => {
      if (error) throw error
      const [reserved, waitMs, decidedAtMs] = answer as [number, number, number]
      return { reserved: reserved === 1, waitMs, decidedAtMs }
    })
  }

  private acquireArgs(
    send: { phoneNumberId: string; recipient: string; throughputMps: number },
    leadMs: number,
  ): [number, ...Array<string | number>] {
    const tag = numberTag(send.phoneNumberId)
    const numberIntervalUs = Math.ceil(1_000_000 / (send.throughputMps * this.options.utilization))
    return [
      3,
      `pause:${tag}`,
      `rl:${tag}:pn`,
      `rl:${tag}:pair:${send.recipient}`,
      this.options.maxReserveMs,
      Math.max(0, Math.round(leadMs)),
      numberIntervalUs,
      1,
      this.options.pairIntervalMs * 1000,
      this.options.pairBurst,
    ]
  }

  /** Stops every send of the number for `ms` (after Meta's 130429 or 131048). */
  async pauseNumber(phoneNumberId: string, ms: number): Promise<void> {
    await this.redis.set(`pause:${numberTag(phoneNumberId)}`, '1', 'PX', Math.max(1, Math.round(ms)))
  }

  /** Pushes the pair's next slot `ms` into the future (after Meta's 131056). */
  async backOffPair(phoneNumberId: string, recipient: string, ms: number): Promise<void> {
    const key = `rl:${numberTag(phoneNumberId)}:pair:${recipient}`
    const [seconds, micros] = await this.redis.time()
    const until = Number(seconds) * 1_000_000 + Number(micros) + Math.round(ms * 1000)
    // The pair bucket then admits nothing before `until`, whatever burst it had left.
    const tat = until + this.options.pairIntervalMs * 1000 * (this.options.pairBurst - 1)
    await this.redis.set(key, String(tat), 'PX', Math.ceil((tat - until) / 1000 + ms) + 1000)
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    gcraAcquire(
      numKeys: number,
      ...args: Array<string | number>
    ): import('ioredis').Result<[number, number, number], Context>
  }
  interface ChainableCommander {
    gcraAcquire(numKeys: number, ...args: Array<string | number>): ChainableCommander
  }
}
