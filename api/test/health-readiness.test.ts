import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { Readiness } from '../src/health/readiness.js'

describe('warm-up after the first readiness answer', () => {
  it('waits for the first 200 of /health, then runs once', async () => {
    const readiness = new Readiness()
    let warmed = 0
    const done = readiness.afterFirstAnswer(60_000, new AbortController().signal, async () => {
      warmed += 1
    })
    await sleep(50)
    expect(warmed).toBe(0)
    readiness.answeredReady()
    readiness.answeredReady()
    await done
    expect(warmed).toBe(1)
  })

  it('runs after the fallback delay when no probe comes', async () => {
    const readiness = new Readiness()
    let warmed = 0
    await readiness.afterFirstAnswer(20, new AbortController().signal, async () => {
      warmed += 1
    })
    expect(warmed).toBe(1)
  })

  it('does not run once the process is closing', async () => {
    const readiness = new Readiness()
    const closing = new AbortController()
    let warmed = 0
    const done = readiness.afterFirstAnswer(60_000, closing.signal, async () => {
      warmed += 1
    })
    closing.abort()
    await done
    expect(warmed).toBe(0)
  })
})
