/**
 * The fake's notion of "now" for the 24-hour service window and webhook timestamps. Tests pin it
 * (`POST /__fake/clock`) to cross the window boundary without waiting. Recorded request times use
 * the real clock instead, because throughput is measured against real time.
 */
export class FakeClock {
  private offsetMs = 0

  now(): number {
    return Date.now() + this.offsetMs
  }

  /** Sets the current time; it then keeps running from there. */
  set(epochMs: number): void {
    this.offsetMs = epochMs - Date.now()
  }

  advance(ms: number): void {
    this.offsetMs += ms
  }

  reset(): void {
    this.offsetMs = 0
  }
}
