// AWS credentials reach containers only as Dagger secrets (never as plain env or files in a layer).
// In GitHub Actions they come from OIDC (aws-actions/configure-aws-credentials), which always yields a
// session token: short-lived keys only, no long-lived access key is stored anywhere.

export interface AwsCredentials<S> {
  accessKeyId?: S | null
  secretAccessKey?: S | null
  sessionToken?: S | null
}

export interface SecretVariable<S> {
  name: string
  secret: S
}

/**
 * The secret env variables for the AWS SDKs and CLIs. Either none (the container finds no credentials
 * and the tool fails with its own message) or a complete key pair, optionally with a session token.
 */
export function awsSecretVariables<S>(credentials: AwsCredentials<S>): SecretVariable<S>[] {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials
  if (!accessKeyId && !secretAccessKey && !sessionToken) return []
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(
      'AWS credentials are incomplete: pass --aws-access-key-id and --aws-secret-access-key together (plus --aws-session-token for OIDC/SSO)',
    )
  }
  const variables: SecretVariable<S>[] = [
    { name: 'AWS_ACCESS_KEY_ID', secret: accessKeyId },
    { name: 'AWS_SECRET_ACCESS_KEY', secret: secretAccessKey },
  ]
  if (sessionToken) variables.push({ name: 'AWS_SESSION_TOKEN', secret: sessionToken })
  return variables
}

/** Region is not secret; both names are set because SDKs and tools disagree on which one they read. */
export function awsRegionVariables(region: string): Record<string, string> {
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new Error(`"${region}" is not an AWS region`)
  return { AWS_REGION: region, AWS_DEFAULT_REGION: region }
}
