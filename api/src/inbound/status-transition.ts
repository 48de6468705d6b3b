/**
 * Forward-only status rules of outbound messages (statuses arrive out of order and more than once):
 * sent < delivered < read; "read" implies delivered (Meta skips "delivered" when both happen at once);
 * "failed" is terminal, and is ignored for a message already delivered or read; a late "sent" never
 * overwrites delivered, read or failed. Pure, so every ordering is unit-testable.
 */

export type StoredStatus = 'QUEUED' | 'SENDING' | 'SENT' | 'DELIVERED' | 'READ' | 'FAILED' | 'RECEIVED'
export type MetaStatusName = 'sent' | 'delivered' | 'read' | 'failed'

export interface MessageStatusState {
  status: StoredStatus
  sentAt: Date | null
  deliveredAt: Date | null
  readAt: Date | null
  failedAt: Date | null
}

export interface StatusEvent {
  status: MetaStatusName
  at: Date
}

const RANK: Record<StoredStatus, number> = {
  QUEUED: 0,
  SENDING: 1,
  SENT: 2,
  DELIVERED: 3,
  READ: 4,
  FAILED: 5,
  RECEIVED: -1,
}

export function isMetaStatusName(value: unknown): value is MetaStatusName {
  return value === 'sent' || value === 'delivered' || value === 'read' || value === 'failed'
}

/** Order in which pending statuses of one message are replayed. */
export function statusOrder(status: string): number {
  return isMetaStatusName(status) ? { sent: 1, delivered: 2, read: 3, failed: 4 }[status] : 9
}

/** The new state, or null when the event changes nothing (duplicate, late, or not applicable). */
export function nextStatusState(current: MessageStatusState, event: StatusEvent): MessageStatusState | null {
  if (current.status === 'RECEIVED' || current.status === 'FAILED') return null
  const rank = RANK[current.status]
  const at = event.at
  switch (event.status) {
    case 'sent':
      if (rank >= RANK.SENT) return null
      return { ...current, status: 'SENT', sentAt: current.sentAt ?? at }
    case 'delivered':
      if (rank >= RANK.DELIVERED) return null
      return {
        ...current,
        status: 'DELIVERED',
        sentAt: current.sentAt ?? at,
        deliveredAt: current.deliveredAt ?? at,
      }
    case 'read':
      if (rank >= RANK.READ) return null
      return {
        ...current,
        status: 'READ',
        sentAt: current.sentAt ?? at,
        deliveredAt: current.deliveredAt ?? at,
        readAt: current.readAt ?? at,
      }
    case 'failed':
      if (rank >= RANK.DELIVERED) return null
      return { ...current, status: 'FAILED', failedAt: at }
  }
}
