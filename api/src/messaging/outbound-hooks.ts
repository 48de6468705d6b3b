import { applyPendingStatuses } from '../inbound/apply-status.js'
import type { OutboundHooks } from './outbound-processor.js'

/**
 * The service's reactions to what the sender does: statuses that overtook the send answer are
 * applied (the inbound processor's applyPendingStatuses). The sender writes its own `message.status`
 * events in the statements that change the messages.
 */
export const serviceOutboundHooks: OutboundHooks = {
  async wamidStored(prisma, wamid) {
    await applyPendingStatuses(prisma, wamid)
  },
}
