/**
 * Replaces every known secret value in a text with `***`. Log lines and reports pass through it, so a
 * secret that a tool echoes (a connection string, a token in an error) never reaches a terminal or a file.
 */
export function createScrubber(secrets: readonly string[]): (text: string) => string {
  // Short values would mask ordinary words; secrets here are long random strings.
  const values = [...new Set(secrets.filter((s) => s.length >= 8))].sort((a, b) => b.length - a.length)
  const urlPassword = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)([^@\s]+)(@)/gi
  return (text: string) => {
    let out = text.replace(urlPassword, '$1***$3')
    for (const value of values) out = out.replaceAll(value, '***')
    return out
  }
}
