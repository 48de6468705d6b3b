import type { StoredStatus } from '../inbound/status-transition.js'
import type { DomainEventInput } from './publish.js'

/** The `data` of a `message.status` event, as customer webhooks receive it (README "Customer webhooks"). */
export interface MessageStatusEventData {
  messageId: string
  conversationId: string
  /** Lower case, as the API shows statuses. */
  status: string
  previousStatus: string
  /** When the change happened: Meta's timestamp for a status webhook, the sender's clock for its own changes. */
  timestamp: string
  wamid?: string
  error?: { code: number | null; title: string | null }
}

export interface MessageStatusChange {
  message: { id: string; organizationId: string; conversationId: string; wamid: string | null }
  /** The status before and after the change, both read from the row the change was made to. */
  previous: StoredStatus
  status: StoredStatus
  at: Date
  error?: { code: number | null; title: string | null }
}

/** The one builder of `message.status` events: the sender's own changes and Meta's status webhooks alike. */
export function messageStatusEvent(change: MessageStatusChange): DomainEventInput & {
  type: 'message.status'
  data: MessageStatusEventData & Record<string, unknown>
} {
  const { message, error } = change
  return {
    organizationId: message.organizationId,
    type: 'message.status',
    data: {
      messageId: message.id,
      conversationId: message.conversationId,
      status: change.status.toLowerCase(),
      previousStatus: change.previous.toLowerCase(),
      timestamp: change.at.toISOString(),
      ...(message.wamid ? { wamid: message.wamid } : {}),
      ...(error ? { error: { code: error.code, title: error.title } } : {}),
    },
  }
}
