// Error types of the AWS target and the classification of SDK errors into messages an operator can act on.

/** A failure with a message that is safe to print (no credentials, no secrets). */
export class AwsTargetError extends Error {
  override readonly name: string = 'AwsTargetError'
}

/** A required tool (container CLI, Pulumi CLI) is absent: the message names how to install it. */
export class ToolMissingError extends AwsTargetError {
  override readonly name = 'ToolMissingError'
}

/** A bounded wait ran out of time. */
export class WaitTimeoutError extends AwsTargetError {
  override readonly name = 'WaitTimeoutError'
}

/** Preflight found unmet items; `unmet` lists them one per entry. */
export class PreflightError extends AwsTargetError {
  override readonly name = 'PreflightError'
  constructor(readonly unmet: string[]) {
    // One line: reports and summaries keep only the first line of a failure.
    super(`preflight failed, ${unmet.length} unmet item(s): ${unmet.map((item) => `✗ ${item}`).join(' ')}`)
  }
}

/** Another deploy holds this environment's lock. */
export class DeployLockHeldError extends AwsTargetError {
  override readonly name = 'DeployLockHeldError'
}

const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'LimitExceededException',
])

const CREDENTIAL_NAMES = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'TokenRefreshRequired',
  'InvalidGrantException',
  'UnauthorizedException',
])

function errorName(error: unknown): string {
  if (error && typeof error === 'object' && 'name' in error && typeof error.name === 'string')
    return error.name
  return ''
}

export function isThrottlingError(error: unknown): boolean {
  return THROTTLING_NAMES.has(errorName(error))
}

export function isCredentialsError(error: unknown): boolean {
  const name = errorName(error)
  if (CREDENTIAL_NAMES.has(name)) return true
  const message = error instanceof Error ? error.message : ''
  return /could not load credentials|token has expired|sso session .* expired|security token included in the request is (invalid|expired)/i.test(
    message,
  )
}

export function isNotFoundError(error: unknown): boolean {
  const name = errorName(error)
  return name === 'ResourceNotFoundException' || name === 'NotFound' || name === 'NoSuchKey'
}

export const CREDENTIALS_HINT =
  'AWS credentials are missing or expired. Log in with `aws sso login --profile <profile>` and export AWS_PROFILE=<profile>; ' +
  'in GitHub Actions assume the deploy role through OIDC (aws-actions/configure-aws-credentials with role-to-assume); ' +
  'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN in the environment also work.'

/**
 * One line describing an SDK failure. Credential failures become the login hint; everything else keeps the
 * service's own error name and message, which AWS never fills with credential material.
 */
export function describeAwsError(error: unknown): string {
  if (isCredentialsError(error)) return CREDENTIALS_HINT
  if (error instanceof AwsTargetError) return error.message
  const name = errorName(error)
  const message = error instanceof Error ? error.message : String(error)
  return name && !message.startsWith(name) ? `${name}: ${message}` : message
}

/** Re-throws an SDK error as an AwsTargetError whose message says what was being done. */
export function wrapAwsError(action: string, error: unknown): AwsTargetError {
  if (error instanceof AwsTargetError) return error
  const wrapped = new AwsTargetError(`${action}: ${describeAwsError(error)}`)
  wrapped.cause = error
  return wrapped
}
