import { messageStatusEvent } from '../events/message-status.js'
import { publishEvent } from '../events/publish.js'
import { applyPendingStatuses } from '../inbound/apply-status.js'
import type { OutboundHooks } from './outbound-processor.js'

/**
 * The service's reactions to what the sender does: statuses that overtook the send answer are
 * applied (the inbound processor's applyPendingStatuses), and the sender's own status changes are
 * published as `message.status` events by the same builder as Meta's status webhooks.
 */
export const serviceOutboundHooks: OutboundHooks = {
  async wamidStored(prisma, wamid) {
    await applyPendingStatuses(prisma, wamid)
  },
  async statusChanged(tx, message, status, previous, error) {
    await publishEvent(
      tx,
      messageStatusEvent({
        message,
        previous,
        status: status === 'sent' ? 'SENT' : 'FAILED',
        at: new Date(),
        ...(error ? { error: { code: error.code, title: error.title } } : {}),
      }),
    )
  },
}
