/** Which Graph calls a fault rule applies to. Every given field must match. */
export interface FaultMatch {
  /** Substring of the request path, e.g. `/messages` or a phone number id. */
  path?: string
  method?: string
  phoneNumberId?: string
  /** Recipient of a send (`to` in the body). */
  to?: string
}

export interface FaultRule {
  match?: FaultMatch
  /** How many matching calls it affects; absent = 1, 0 = every call until removed. */
  times?: number
  /** Answer with Meta's error envelope for this code (HTTP status from the code unless given). */
  response?: { httpStatus?: number; code?: number; subcode?: number; details?: string }
  /** Accept the send (200 + wamid), then report this code in a `failed` status webhook. */
  asyncFailure?: { code: number; details?: string }
  /** Wait this long before answering (or before dropping the connection). */
  latencyMs?: number
  /**
   * Read the request, then destroy the socket without answering. The message is still accepted
   * (its status webhooks follow) unless `accepted` is false: the ambiguous case of a lost answer.
   */
  dropConnectionAfterRequest?: boolean
  accepted?: boolean
}

export interface ActiveFault extends FaultRule {
  id: number
  remaining: number | null
}

export interface CallDescription {
  method: string
  path: string
  phoneNumberId?: string
  to?: string
}

/** Ordered fault rules; the first live rule that matches a call is used (and counted down). */
export class FaultBook {
  private rules: ActiveFault[] = []
  private nextId = 1

  add(rule: FaultRule): ActiveFault {
    const times = rule.times ?? 1
    const active: ActiveFault = { ...rule, id: this.nextId++, remaining: times === 0 ? null : times }
    this.rules.push(active)
    return active
  }

  list(): ActiveFault[] {
    return [...this.rules]
  }

  remove(id: number): boolean {
    const before = this.rules.length
    this.rules = this.rules.filter((r) => r.id !== id)
    return this.rules.length !== before
  }

  clear(): void {
    this.rules = []
  }

  /** Takes the rule for this call, if any, spending one of its uses. */
  take(call: CallDescription): ActiveFault | undefined {
    const rule = this.rules.find((r) => matches(r.match, call))
    if (!rule) return undefined
    if (rule.remaining !== null) {
      rule.remaining -= 1
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule)
    }
    return rule
  }
}

function matches(match: FaultMatch | undefined, call: CallDescription): boolean {
  if (!match) return true
  if (match.method && match.method.toUpperCase() !== call.method) return false
  if (match.path && !call.path.includes(match.path)) return false
  if (match.phoneNumberId && match.phoneNumberId !== call.phoneNumberId) return false
  if (match.to && match.to !== call.to) return false
  return true
}
