/** One Graph call as the fake saw it. `at` is real wall-clock time in ms (for rate measurements). */
export interface RecordedRequest {
  seq: number
  at: number
  method: string
  path: string
  phoneNumberId?: string
  to?: string
  type?: string
  /** `biz_opaque_callback_data` of a send, our message id. */
  callbackData?: string
  body?: unknown
  httpStatus: number
  errorCode?: number
  wamid?: string
  /** The connection was dropped after the request was read. */
  dropped?: boolean
}

/**
 * Ring buffer of recorded calls: memory stays bounded under load runs (the oldest entries go),
 * and nothing touches the disk.
 */
export class RequestLog {
  private entries: RecordedRequest[] = []
  private seq = 0

  constructor(private readonly capacity: number) {}

  record(entry: Omit<RecordedRequest, 'seq'>): RecordedRequest {
    this.seq += 1
    const full = { ...entry, seq: this.seq }
    this.entries.push(full)
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity)
    return full
  }

  list(filter: { sinceSeq?: number; path?: string; phoneNumberId?: string } = {}): RecordedRequest[] {
    return this.entries.filter(
      (e) =>
        (filter.sinceSeq === undefined || e.seq > filter.sinceSeq) &&
        (filter.path === undefined || e.path.includes(filter.path)) &&
        (filter.phoneNumberId === undefined || e.phoneNumberId === filter.phoneNumberId),
    )
  }

  clear(): void {
    this.entries = []
  }
}
