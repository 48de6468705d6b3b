// Every line an ops command prints passes through here: the pipeline keeps the output in its
// report, so a connection string with a password must never reach it.

const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/\s]*)@/gi

/** Replaces the password of every URL in text, and every known secret value, with `***`. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(URL_CREDENTIALS, '$1:***@')
  for (const secret of secrets) {
    // Short values would mask ordinary words; such passwords are still hidden inside URLs above.
    if (secret.length >= 4) out = out.split(secret).join('***')
  }
  return out
}

/** The secrets a database URL carries (its password, raw and URL-decoded). */
export function secretsOfUrl(url: string | undefined): string[] {
  if (!url) return []
  try {
    const password = new URL(url).password
    if (!password) return []
    return [...new Set([password, decodeURIComponent(password)])]
  } catch {
    return []
  }
}
