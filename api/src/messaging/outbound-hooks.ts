import { publishEvent } from '../events/publish.js'
import { applyPendingStatuses } from '../inbound/apply-status.js'
import type { OutboundHooks } from './outbound-processor.js'

/**
 * The service's reactions to what the sender does: statuses that overtook the send answer are
 * applied (the inbound processor's applyPendingStatuses), and the sender's own status changes are
 * published as `message.status` events in the shape the inbound processor uses.
 */
export const serviceOutboundHooks: OutboundHooks = {
  async wamidStored(prisma, wamid) {
    await applyPendingStatuses(prisma, wamid)
  },
  async statusChanged(tx, message, status, error) {
    await publishEvent(tx, {
      organizationId: message.organizationId,
      type: 'message.status',
      data: {
        messageId: message.id,
        conversationId: message.conversationId,
        status,
        previousStatus: status === 'sent' ? 'sending' : 'queued',
        timestamp: new Date().toISOString(),
        ...(message.wamid ? { wamid: message.wamid } : {}),
        ...(error ? { error: { code: error.code, title: error.title } } : {}),
      },
    })
  },
}
