import type { Redis } from 'ioredis'
import type { PrismaClient } from '../db/prisma.js'

export type DependencyState = 'connected' | 'disconnected'

/** Resolves true when check() succeeds within timeoutMs; false on error or timeout (a hung dependency). */
async function within(check: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  try {
    return await Promise.race([
      check().then(
        () => true,
        () => false,
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

export async function probeDatabase(prisma: PrismaClient, timeoutMs: number): Promise<DependencyState> {
  return (await within(() => prisma.$queryRaw`SELECT 1`, timeoutMs)) ? 'connected' : 'disconnected'
}

/** A client still (re)connecting gets the rest of the timeout to become ready before the PING. */
function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      redis.off('ready', onReady)
      reject(new Error('redis not ready'))
    }, timeoutMs)
    redis.once('ready', onReady)
  })
}

export async function probeRedis(redis: Redis, timeoutMs: number): Promise<DependencyState> {
  return (await within(() => whenReady(redis, timeoutMs).then(() => redis.ping()), timeoutMs))
    ? 'connected'
    : 'disconnected'
}
