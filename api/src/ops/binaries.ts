import { execFileSync } from 'node:child_process'

// The ops commands' own lookup of the PostgreSQL client tools. The local servers' package
// (@whatsapp-saas/local-services) has one too, but it is a development package the image does not carry.

/** Raised when a system binary is not installed. One line, naming the Debian package to install. */
export class MissingBinaryError extends Error {
  constructor(binary: string, aptPackage: string) {
    super(`${binary} not found: install the Debian package ${aptPackage} (apt-get install -y ${aptPackage})`)
    this.name = 'MissingBinaryError'
  }
}

/** Absolute path of a binary on PATH, or a MissingBinaryError naming its package. */
export function requireBinary(binary: string, aptPackage: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim()
  } catch {
    throw new MissingBinaryError(binary, aptPackage)
  }
}
