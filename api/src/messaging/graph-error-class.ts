/**
 * What the sender does with a Graph error (docs/whatsapp-cloud-api.md §1.8). Decisions are taken on Meta's code,
 * never on its title; the HTTP status only decides when the code is unknown.
 */
export type GraphErrorClass =
  /** 130429, 131048: the whole phone number slows down (pause key), no attempt spent. */
  | 'throttle-number'
  /** 131056: only this business/user pair backs off (4^n s), no attempt spent. */
  | 'throttle-pair'
  /** 4, 80007: app or WABA API rate: retry later, no attempt spent. */
  | 'throttle-app'
  /** Meta's server side (131000, 131016, 131057, 133004, HTTP 5xx): backoff with jitter, attempts counted. */
  | 'transient'
  /** 0, 190: the access token is invalid; the number is marked AUTH_INVALID. */
  | 'auth'
  /** 131050: the user stopped marketing messages; the contact is opted out. */
  | 'opt-out'
  /** Everything else: FAILED with Meta's code, title and details, never retried. */
  | 'terminal'

const THROTTLE_NUMBER = new Set([130429, 131048])
const THROTTLE_PAIR = new Set([131056])
const THROTTLE_APP = new Set([4, 80007])
const TRANSIENT = new Set([1, 2, 131000, 131016, 131057, 133004])
const AUTH = new Set([0, 190])

export function classifyGraphError(code: number | undefined, httpStatus: number): GraphErrorClass {
  if (code !== undefined) {
    if (THROTTLE_NUMBER.has(code)) return 'throttle-number'
    if (THROTTLE_PAIR.has(code)) return 'throttle-pair'
    if (THROTTLE_APP.has(code)) return 'throttle-app'
    if (TRANSIENT.has(code)) return 'transient'
    if (AUTH.has(code)) return 'auth'
    if (code === 131050) return 'opt-out'
  }
  if (httpStatus >= 500 || httpStatus === 429) return httpStatus === 429 ? 'throttle-app' : 'transient'
  if (code === undefined && httpStatus === 401) return 'auth'
  return 'terminal'
}
