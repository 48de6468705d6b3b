import { FakeClock } from './clock.js'
import { FaultBook } from './faults.js'
import { SeededIds } from './ids.js'
import { OrganicLimits, type OrganicLimitsConfig } from './organic-limits.js'
import { type PhoneIdentity, type StatusItem, statusesPayload } from './payloads.js'
import { RequestLog } from './request-log.js'
import {
  defaultStatusWebhookConfig,
  type StatusWebhookConfig,
  type WebhookEmitter,
} from './webhook-emitter.js'

export interface FakePhoneNumber extends PhoneIdentity {
  verifiedName: string
  qualityRating: string
  throughputLevel: string
}

export interface FakeTemplate {
  id: string
  name: string
  language: string
  category: string
  status: string
  components: unknown[]
  rejectedReason?: string
}

export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000

export interface FakeGraphStateOptions {
  /** Fixed seed of the ids (deterministic); absent: random per start and per reset. */
  seed?: string
  defaultWabaId: string
  maxRecorded: number
  limits: OrganicLimitsConfig
  /** Free-form sends outside the 24-hour window fail with 131047 (as a `failed` status webhook). */
  enforceServiceWindow: boolean
  /** Template sends must name an APPROVED template of the number's WABA (132001/132015/132016). */
  enforceTemplates: boolean
  /** Templates present after start and after every reset. */
  initialTemplates: Array<Partial<FakeTemplate> & { name: string; language: string; wabaId?: string }>
}

/** Everything the fake remembers, in memory only. */
export class FakeGraphState {
  readonly clock = new FakeClock()
  readonly faults = new FaultBook()
  readonly ids: SeededIds
  readonly requests: RequestLog
  readonly limits: OrganicLimits
  statusWebhooks: StatusWebhookConfig = structuredClone(defaultStatusWebhookConfig)
  private readonly phones = new Map<string, FakePhoneNumber>()
  private readonly templates = new Map<string, FakeTemplate[]>()
  /** Last inbound message time (fake clock) per `${phoneNumberId}:${user}`. */
  private readonly lastInbound = new Map<string, number>()

  constructor(
    readonly options: FakeGraphStateOptions,
    readonly emitter: WebhookEmitter,
  ) {
    this.ids = new SeededIds(options.seed)
    this.requests = new RequestLog(options.maxRecorded)
    this.limits = new OrganicLimits(options.limits)
    this.seedTemplates()
  }

  reset(): void {
    this.emitter.cancelPending()
    this.clock.reset()
    this.faults.clear()
    this.ids.reset()
    this.requests.clear()
    this.limits.configure(this.options.limits)
    this.statusWebhooks = structuredClone(defaultStatusWebhookConfig)
    this.phones.clear()
    this.templates.clear()
    this.lastInbound.clear()
    this.seedTemplates()
  }

  phone(phoneNumberId: string): FakePhoneNumber {
    const known = this.phones.get(phoneNumberId)
    if (known) return known
    const digits = phoneNumberId.replace(/\D/g, '').padStart(7, '0').slice(-7)
    return {
      phoneNumberId,
      wabaId: this.options.defaultWabaId,
      displayPhoneNumber: `1555${digits}`,
      verifiedName: 'Fake Business',
      qualityRating: 'GREEN',
      throughputLevel: 'STANDARD',
    }
  }

  registerPhone(phone: Partial<FakePhoneNumber> & { phoneNumberId: string }): FakePhoneNumber {
    const full = { ...this.phone(phone.phoneNumberId), ...phone }
    this.phones.set(phone.phoneNumberId, full)
    return full
  }

  // --- templates -------------------------------------------------------------------------------

  listTemplates(wabaId: string): FakeTemplate[] {
    return this.templates.get(wabaId) ?? []
  }

  upsertTemplate(
    wabaId: string,
    input: Partial<FakeTemplate> & { name: string; language: string },
  ): FakeTemplate {
    const list = this.templates.get(wabaId) ?? []
    const existing = list.find((t) => t.name === input.name && t.language === input.language)
    if (existing) {
      Object.assign(existing, stripUndefined(input))
      return existing
    }
    const created: FakeTemplate = {
      id: input.id ?? this.ids.nextNumeric(),
      name: input.name,
      language: input.language,
      category: input.category ?? 'UTILITY',
      status: input.status ?? 'APPROVED',
      components: input.components ?? [{ type: 'BODY', text: `Template ${input.name}` }],
      ...(input.rejectedReason ? { rejectedReason: input.rejectedReason } : {}),
    }
    list.push(created)
    this.templates.set(wabaId, list)
    return created
  }

  findTemplate(wabaId: string, name: string, language: string): FakeTemplate | undefined {
    return this.listTemplates(wabaId).find((t) => t.name === name && t.language === language)
  }

  private seedTemplates(): void {
    for (const t of this.options.initialTemplates) {
      this.upsertTemplate(t.wabaId ?? this.options.defaultWabaId, t)
    }
  }

  // --- 24-hour window ----------------------------------------------------------------------------

  recordInbound(phoneNumberId: string, user: string, atMs: number): void {
    const key = `${phoneNumberId}:${user}`
    this.lastInbound.set(key, Math.max(this.lastInbound.get(key) ?? 0, atMs))
  }

  windowOpen(phoneNumberId: string, user: string): boolean {
    const last = this.lastInbound.get(`${phoneNumberId}:${user}`)
    return last !== undefined && this.clock.now() - last < SERVICE_WINDOW_MS
  }

  // --- status webhooks ---------------------------------------------------------------------------

  /** Schedules sent → delivered → read for an accepted send, as configured. */
  scheduleStatuses(phoneNumberId: string, wamid: string, to: string, callbackData?: string): void {
    const config = this.statusWebhooks
    if (!config.enabled || !this.emitter.url) return
    let kinds = [...config.statuses]
    if (config.skipDelivered && kinds.includes('read')) kinds = kinds.filter((k) => k !== 'delivered')
    const delays = kinds.map((k) => config.delaysMs[k])
    if (config.reorder) kinds.reverse()
    const phone = this.phone(phoneNumberId)
    const conversationId = this.ids.next('')
    const copies = 1 + config.duplicates
    const status = (kind: StatusItem['status']): StatusItem => ({
      id: wamid,
      status: kind,
      timestamp: String(Math.floor(this.clock.now() / 1000)),
      recipient_id: to,
      ...(callbackData === undefined ? {} : { biz_opaque_callback_data: callbackData }),
      ...(kind === 'failed'
        ? {}
        : {
            conversation: { id: conversationId, origin: { type: 'service' } },
            pricing: { billable: true, pricing_model: 'PMP', category: 'service' },
          }),
    })
    if (config.batch) {
      const at = Math.max(...delays)
      for (let c = 0; c < copies; c++) {
        this.emitter.schedule(
          statusesPayload(
            phone,
            kinds.map((k) => status(k)),
          ),
          at,
        )
      }
      return
    }
    kinds.forEach((kind, i) => {
      for (let c = 0; c < copies; c++)
        this.emitter.schedule(statusesPayload(phone, [status(kind)]), delays[i]!)
    })
  }

  /** A send that was accepted and then failed: one `failed` status with Meta's error. */
  scheduleFailure(
    phoneNumberId: string,
    wamid: string,
    to: string,
    error: unknown,
    callbackData?: string,
  ): void {
    if (!this.emitter.url) return
    const item: StatusItem = {
      id: wamid,
      status: 'failed',
      timestamp: String(Math.floor(this.clock.now() / 1000)),
      recipient_id: to,
      ...(callbackData === undefined ? {} : { biz_opaque_callback_data: callbackData }),
      errors: [error],
    }
    this.emitter.schedule(
      statusesPayload(this.phone(phoneNumberId), [item]),
      this.statusWebhooks.delaysMs.sent,
    )
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
