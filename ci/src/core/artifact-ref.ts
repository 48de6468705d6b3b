import type { Artifact } from './types.js'

const IMAGE_REF = /^(?<ref>[^@\s]+)@(?<digest>sha256:[0-9a-f]{64})$/

/** Parses `ref@sha256:<64 hex>`; anything else (a tag, `latest`, a short digest) is refused. */
export function parseImageRef(image: string): Omit<Artifact, 'version'> {
  const match = IMAGE_REF.exec(image.trim())
  if (!match?.groups) {
    throw new Error(
      `--image must be <ref>@sha256:<64 hex> (an immutable digest, never a tag), got "${image}"`,
    )
  }
  return { ref: match.groups.ref!, digest: match.groups.digest! }
}

export function formatImageRef(artifact: Pick<Artifact, 'ref' | 'digest'>): string {
  return `${artifact.ref}@${artifact.digest}`
}
