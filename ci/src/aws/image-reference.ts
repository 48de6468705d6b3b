// Parsing of container image references (`repo:tag`, `repo@sha256:...`), enough for ECR references.
import { AwsTargetError } from './errors.js'

export interface ImageReference {
  repository: string
  tag?: string
  digest?: string
}

const DIGEST = /^sha256:[0-9a-f]{64}$/

export function isDigest(value: string): boolean {
  return DIGEST.test(value)
}

export function parseImageReference(image: string): ImageReference {
  const at = image.indexOf('@')
  if (at >= 0) {
    const digest = image.slice(at + 1)
    if (!isDigest(digest)) throw new AwsTargetError(`image "${image}" has a malformed digest`)
    return { repository: image.slice(0, at), digest }
  }
  // A colon after the last slash is a tag; one before it belongs to a registry host:port.
  const lastSlash = image.lastIndexOf('/')
  const colon = image.indexOf(':', lastSlash + 1)
  if (colon >= 0) return { repository: image.slice(0, colon), tag: image.slice(colon + 1) }
  return { repository: image }
}

/** `ref@digest`, the only form the pipeline deploys. */
export function pinnedImage(repository: string, digest: string): string {
  if (!isDigest(digest)) throw new AwsTargetError(`"${digest}" is not an image digest (sha256:<64 hex>)`)
  return `${repository}@${digest}`
}

/** The repository name inside a registry URL: `123.dkr.ecr.r.amazonaws.com/name` → `name`. */
export function ecrRepositoryName(repositoryUrl: string): string {
  const slash = repositoryUrl.indexOf('/')
  if (slash < 0) throw new AwsTargetError(`"${repositoryUrl}" is not an ECR repository URL`)
  return repositoryUrl.slice(slash + 1)
}

export function ecrRegistryHost(repositoryUrl: string): string {
  return repositoryUrl.split('/')[0]!
}

/**
 * Tags the pipeline moves onto what a stack serves or can roll back to (`staging-current`,
 * `production-previous`, ...): never a version.
 */
export function isPositionTag(tag: string): boolean {
  return /-(current|previous)$/.test(tag)
}

/** The version (git SHA) tag among an image's tags, whatever order ECR lists them in. */
export function versionTag(tags: string[]): string | undefined {
  return tags.find((tag) => !isPositionTag(tag))
}
