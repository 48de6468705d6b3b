import { randomBytes } from 'node:crypto'
import { readJson, writeJson } from './json-file.js'

/** Secrets of one local environment: generated once, kept in `secrets.json` (mode 0600), given to processes by environment. */
export interface LocalSecrets {
  adminToken: string
  appSecret: string
  verifyToken: string
  /** 32 bytes, base64 (AES-256-GCM key for access tokens at rest). */
  encryptionKey: string
  /** The bearer token the fake Graph API accepts; the demo phone number stores it. */
  graphAccessToken: string
  /** The demo organization's API key, once the seed command made it. */
  apiKey?: string
}

const token = (bytes: number) => randomBytes(bytes).toString('hex')

export function loadOrCreateSecrets(path: string): LocalSecrets {
  const existing = readJson<Partial<LocalSecrets>>(path, {})
  const secrets: LocalSecrets = {
    adminToken: existing.adminToken ?? `adm_${token(24)}`,
    appSecret: existing.appSecret ?? token(32),
    verifyToken: existing.verifyToken ?? token(16),
    encryptionKey: existing.encryptionKey ?? randomBytes(32).toString('base64'),
    graphAccessToken: existing.graphAccessToken ?? `EAAG${token(24)}`,
    ...(existing.apiKey ? { apiKey: existing.apiKey } : {}),
  }
  if (JSON.stringify(secrets) !== JSON.stringify(existing)) writeJson(path, secrets, 0o600)
  return secrets
}

export function saveSecrets(path: string, secrets: LocalSecrets): void {
  writeJson(path, secrets, 0o600)
}

export function secretValues(secrets: LocalSecrets): string[] {
  return Object.values(secrets).filter((v): v is string => typeof v === 'string')
}
