import { describe, expect, it } from 'vitest'
import { redact, secretsOfUrl } from '../../src/ops/redaction.js'

describe('redaction of ops output', () => {
  it('masks the password of every URL, keeping user, host and database', () => {
    expect(redact('connect postgresql://app:p%40ss@db:5432/app and redis://:tok@cache:6379 failed')).toBe(
      'connect postgresql://app:***@db:5432/app and redis://:***@cache:6379 failed',
    )
  })

  it('leaves URLs without a password unchanged', () => {
    expect(redact('postgresql://postgres@127.0.0.1:5432/app s3://bucket/prefix')).toBe(
      'postgresql://postgres@127.0.0.1:5432/app s3://bucket/prefix',
    )
  })

  it('masks a known secret anywhere, raw or URL-decoded', () => {
    const secrets = secretsOfUrl('postgresql://app:p%40ssw0rd@db/app')
    expect(secrets).toEqual(['p%40ssw0rd', 'p@ssw0rd'])
    expect(redact('password "p@ssw0rd" rejected', secrets)).toBe('password "***" rejected')
    expect(secretsOfUrl('postgresql://app@db/app')).toEqual([])
    expect(secretsOfUrl('not a url')).toEqual([])
  })
})
