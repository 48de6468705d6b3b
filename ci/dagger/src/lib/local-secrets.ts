// Secrets of a throwaway local environment, generated per call. ENCRYPTION_KEY must be 32 bytes in
// base64 (AES-256-GCM for access tokens at rest, api/src/config.ts); the others are opaque tokens.
import { randomBytes } from 'node:crypto'
import type { LocalSecretName } from './local-environment.js'

export function randomSecret(name: LocalSecretName): string {
  if (name === 'ENCRYPTION_KEY') return randomBytes(32).toString('base64')
  return randomBytes(24).toString('hex')
}
