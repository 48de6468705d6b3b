import FlatQueue from 'flatqueue'

/**
 * Work due at given times (epoch ms), run by one timer or, sooner, by `runDue()`, which the sender
 * calls from its own callbacks (a job arriving, an answer, a statement's result).
 *
 * Why not a timer per item: Node runs expired timers only between the event loop's turns, and a
 * busy sender's turn handles every answer and result that arrived meanwhile; on a loaded machine
 * such a turn lasts tens of milliseconds. A call due inside it would leave late and have to give
 * its rate slot up (a wasted slot is throughput lost for good). Looking at the queue from the
 * callbacks that make the turn long bounds the lateness by the longest single callback instead.
 *
 * A `run` must not throw: it is called from other work's callbacks.
 */
export class DueQueue {
  private readonly queue = new FlatQueue<() => void>()
  private timer: NodeJS.Timeout | undefined
  /** When the armed timer fires (Infinity: none armed). */
  private timerAt = Number.POSITIVE_INFINITY

  /** Runs `run` at `time`, or at the first `runDue()` after it. */
  at(time: number, run: () => void): void {
    this.queue.push(run, time)
    if (time < this.timerAt) this.arm(time)
  }

  /** Runs everything due by now (in order of time), then arms the timer for what is left. */
  runDue(): void {
    const now = Date.now()
    while (this.queue.length > 0 && (this.queue.peekValue() as number) <= now)
      (this.queue.pop() as () => void)()
    const next = this.queue.peekValue()
    if (next !== undefined && next < this.timerAt) this.arm(next)
  }

  get size(): number {
    return this.queue.length
  }

  private arm(time: number): void {
    clearTimeout(this.timer)
    this.timerAt = time
    this.timer = setTimeout(
      () => {
        this.timerAt = Number.POSITIVE_INFINITY
        this.runDue()
      },
      Math.max(0, time - Date.now()),
    )
  }
}
