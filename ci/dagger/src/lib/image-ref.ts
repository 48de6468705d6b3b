// Image references. From publish on, the pipeline carries `repository@sha256:<digest>` only: a tag can
// be moved, a digest cannot, which is what makes "production receives what staging tested" true.

const DIGEST = /^sha256:[0-9a-f]{64}$/

export interface DigestRef {
  /** Repository without tag or digest, e.g. `123.dkr.ecr.eu-west-1.amazonaws.com/whatsapp-saas-api`. */
  repository: string
  digest: string
}

/** Splits `repo[:tag]@sha256:...`; rejects anything without a digest (tags alone are mutable). */
export function parseDigestRef(ref: string): DigestRef {
  const at = ref.lastIndexOf('@')
  if (at <= 0) throw new Error(`image "${ref}" has no digest: expected <repository>@sha256:<64 hex>`)
  const digest = ref.slice(at + 1)
  if (!DIGEST.test(digest)) throw new Error(`image "${ref}" has a malformed digest: expected sha256:<64 hex>`)
  const named = ref.slice(0, at)
  // A tag is the part after the last ':' that comes after the last '/' (a registry host may carry a port).
  const lastSlash = named.lastIndexOf('/')
  const colon = named.indexOf(':', lastSlash + 1)
  const repository = colon === -1 ? named : named.slice(0, colon)
  if (!repository) throw new Error(`image "${ref}" has no repository`)
  return { repository, digest }
}

/** `Container.publish` answers `repo:tag@sha256:...`; the pipeline wants `repo@sha256:...`. */
export function toDigestRef(published: string): string {
  const { repository, digest } = parseDigestRef(published)
  return `${repository}@${digest}`
}

/** Tag of a published build: the git revision it was built from (never `latest`). */
export function imageTag(repository: string, version: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(version)) {
    throw new Error(`version "${version}" is not a valid image tag`)
  }
  if (repository.includes('@') || /:[^/]*$/.test(repository.slice(repository.lastIndexOf('/') + 1))) {
    throw new Error(`repository "${repository}" must not carry a tag or digest`)
  }
  return `${repository}:${version}`
}

/** The registry host of a repository URL (what registry auth is keyed by). */
export function registryHost(repository: string): string {
  const slash = repository.indexOf('/')
  if (slash <= 0) throw new Error(`repository "${repository}" has no registry host`)
  return repository.slice(0, slash)
}
