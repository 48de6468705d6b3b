/** Titles of the Graph error codes the fake can produce (Meta's error-codes page wording). */
const titles: Record<number, string> = {
  0: 'AuthException',
  4: 'Application request limit reached',
  100: 'Invalid parameter',
  190: 'Access token has expired',
  368: 'Temporarily blocked for policies violations',
  80007: 'Rate limit issues',
  130429: 'Rate limit hit',
  130472: "User's number is part of an experiment",
  131000: 'Something went wrong',
  131008: 'Required parameter is missing',
  131009: 'Parameter value is not valid',
  131016: 'Service unavailable',
  131026: 'Message undeliverable',
  131031: 'Account has been locked',
  131047: 'Re-engagement message',
  131048: 'Spam rate limit hit',
  131049: 'This message was not delivered to maintain healthy ecosystem engagement.',
  131050: 'User has stopped marketing messages',
  131056: '(Business Account, Consumer Account) pair rate limit hit',
  131057: 'Account in maintenance mode',
  132000: 'Number of parameters does not match the expected number of params',
  132001: 'Template name does not exist in the translation',
  132015: 'Template is Paused',
  132016: 'Template is Disabled',
}

export function errorTitle(code: number): string {
  return titles[code] ?? 'Unknown error'
}

/** The HTTP status Graph answers with for a code when a fault rule does not say. */
export function defaultHttpStatus(code: number): number {
  if (code === 190 || code === 0) return 401
  if ([4, 80007, 130429, 131048, 131056].includes(code)) return 429
  if ([131000, 131016, 131057].includes(code)) return 500
  return 400
}

export interface MetaErrorBody {
  error: {
    message: string
    type: string
    code: number
    error_subcode?: number
    error_data: { messaging_product: 'whatsapp'; details: string }
    fbtrace_id: string
  }
}

/** Meta's error envelope (docs/whatsapp-cloud-api.md §1.4). */
export function metaErrorBody(
  code: number,
  fbtraceId: string,
  details?: string,
  subcode?: number,
): MetaErrorBody {
  const title = errorTitle(code)
  return {
    error: {
      message: `(#${code}) ${title}`,
      type: 'OAuthException',
      code,
      ...(subcode === undefined ? {} : { error_subcode: subcode }),
      error_data: { messaging_product: 'whatsapp', details: details ?? title },
      fbtrace_id: fbtraceId,
    },
  }
}

/** The `errors[]` item carried by a `failed` status webhook. */
export function webhookError(code: number, details?: string) {
  const title = errorTitle(code)
  return {
    code,
    title,
    message: title,
    error_data: { details: details ?? title },
    href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
  }
}
