import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DueQueue } from '../../src/messaging/due-queue.js'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('DueQueue', () => {
  it('runs each item at its time from its one timer, in order of time', () => {
    const due = new DueQueue()
    const ran: string[] = []
    due.at(Date.now() + 30, () => ran.push('c'))
    due.at(Date.now() + 10, () => ran.push('a'))
    due.at(Date.now() + 20, () => ran.push('b'))
    vi.advanceTimersByTime(9)
    expect(ran).toEqual([])
    vi.advanceTimersByTime(1)
    expect(ran).toEqual(['a'])
    vi.advanceTimersByTime(20)
    expect(ran).toEqual(['a', 'b', 'c'])
    expect(due.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('runDue() runs what is due before its timer could, and nothing that is not', () => {
    const due = new DueQueue()
    const ran: string[] = []
    due.at(Date.now() + 10, () => ran.push('due'))
    due.at(Date.now() + 50, () => ran.push('later'))
    // The clock moves while the event loop is busy: no timer has had its turn yet.
    vi.setSystemTime(Date.now() + 15)
    due.runDue()
    expect(ran).toEqual(['due'])
    vi.advanceTimersByTime(35)
    expect(ran).toEqual(['due', 'later'])
  })

  it('an item earlier than the armed timer gets a timer of its own', () => {
    const due = new DueQueue()
    const ran: string[] = []
    due.at(Date.now() + 100, () => ran.push('late'))
    due.at(Date.now() + 5, () => ran.push('early'))
    vi.advanceTimersByTime(5)
    expect(ran).toEqual(['early'])
    vi.advanceTimersByTime(95)
    expect(ran).toEqual(['early', 'late'])
  })

  it('an item scheduled by a running item for now runs in the same pass', () => {
    const due = new DueQueue()
    const ran: string[] = []
    due.at(Date.now() + 10, () => {
      ran.push('first')
      due.at(Date.now(), () => ran.push('second'))
    })
    vi.advanceTimersByTime(10)
    expect(ran).toEqual(['first', 'second'])
  })
})
