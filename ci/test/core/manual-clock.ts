import type { Clock } from '../../src/core/clock.js'

/** A clock that moves only when the test advances it; its timeouts fire then, never on their own. */
export class ManualClock implements Clock {
  private timers: { at: number; controller: AbortController }[] = []

  constructor(private time = Date.parse('2026-11-29T10:00:00.000Z')) {}

  now(): number {
    return this.time
  }

  timeout(ms: number): AbortSignal {
    const controller = new AbortController()
    this.timers.push({ at: this.time + ms, controller })
    return controller.signal
  }

  advance(ms: number): void {
    this.time += ms
    const due = this.timers.filter((timer) => timer.at <= this.time)
    this.timers = this.timers.filter((timer) => timer.at > this.time)
    for (const timer of due)
      timer.controller.abort(new DOMException('The operation timed out.', 'TimeoutError'))
  }
}
