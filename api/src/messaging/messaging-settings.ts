/** Tunables of sending and customer webhooks; every field has a default (see README.md). */
export interface MessagingSettings {
  /** Whole Graph call timeout (GRAPH_TIMEOUT_MS). */
  graphTimeoutMs: number
  /** Bound of one POST /api/v1/templates/sync over all its WABAs (TEMPLATE_SYNC_DEADLINE_MS); past it, 504. */
  templateSyncDeadlineMs: number
  /** Graph calls per message for transient errors before FAILED (OUTBOUND_MAX_ATTEMPTS). */
  outboundMaxAttempts: number
  /** First backoff after a transient error, doubled per attempt, with jitter (OUTBOUND_BACKOFF_BASE_MS). */
  outboundBackoffBaseMs: number
  /**
   * After an ambiguous send (timeout or lost connection once the request was written), how long to
   * wait for a status webhook carrying our id before the one resend (OUTBOUND_RECONCILE_AFTER_MS).
   */
  outboundReconcileAfterMs: number
  /** Fraction of a number's throughputMps the limiter schedules (OUTBOUND_RATE_UTILIZATION). */
  outboundRateUtilization: number
  /** Pair rate: one message per interval after a burst (PAIR_RATE_INTERVAL_MS, PAIR_RATE_BURST). */
  pairRateIntervalMs: number
  pairRateBurst: number
  /** Customer webhook delivery timeout (CUSTOMER_WEBHOOK_TIMEOUT_MS). */
  customerWebhookTimeoutMs: number
  /** Attempts per delivery before it is FAILED (CUSTOMER_WEBHOOK_MAX_ATTEMPTS). */
  customerWebhookMaxAttempts: number
  /** First retry delay, doubled per attempt, with jitter (CUSTOMER_WEBHOOK_RETRY_BASE_MS). */
  customerWebhookRetryBaseMs: number
  /** Consecutive failed attempts after which an endpoint is disabled (CUSTOMER_WEBHOOK_DISABLE_AFTER). */
  customerWebhookDisableAfter: number
  /** Customer webhooks only to https on port 443 (CUSTOMER_WEBHOOK_REQUIRE_HTTPS; false on the local target only). */
  customerWebhookRequireHttps: boolean
  /** Customer webhooks may go to loopback addresses (CUSTOMER_WEBHOOK_ALLOW_LOOPBACK; local target and tests only). */
  customerWebhookAllowLoopback: boolean
}

export const DEFAULT_MESSAGING_SETTINGS: MessagingSettings = {
  graphTimeoutMs: 10_000,
  templateSyncDeadlineMs: 30_000,
  outboundMaxAttempts: 5,
  outboundBackoffBaseMs: 1_000,
  outboundReconcileAfterMs: 5 * 60_000,
  outboundRateUtilization: 0.96,
  pairRateIntervalMs: 6_000,
  pairRateBurst: 45,
  customerWebhookTimeoutMs: 5_000,
  customerWebhookMaxAttempts: 10,
  customerWebhookRetryBaseMs: 10_000,
  customerWebhookDisableAfter: 50,
  customerWebhookRequireHttps: true,
  customerWebhookAllowLoopback: false,
}

/** The settings of a Config (which may omit them: defaults then). */
export function messagingSettings(config: { messaging?: Partial<MessagingSettings> }): MessagingSettings {
  return { ...DEFAULT_MESSAGING_SETTINGS, ...config.messaging }
}

/** Where customer webhooks may go (src/messaging/webhook-url-policy.ts). */
export function webhookUrlPolicy(settings: MessagingSettings): {
  requireHttps: boolean
  allowLoopback: boolean
} {
  return {
    requireHttps: settings.customerWebhookRequireHttps,
    allowLoopback: settings.customerWebhookAllowLoopback,
  }
}
