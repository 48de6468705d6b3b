/** Permissions an API key can hold. New keys get all of them unless the caller narrows the list. */
export const API_KEY_SCOPES = [
  'organization:read',
  'api_keys:read',
  'api_keys:write',
  'phone_numbers:read',
  'phone_numbers:write',
  'contacts:read',
  'contacts:write',
  'conversations:read',
  'messages:read',
  'messages:write',
  'templates:read',
  'templates:write',
  'webhooks:read',
  'webhooks:write',
] as const

export type ApiKeyScope = (typeof API_KEY_SCOPES)[number]
