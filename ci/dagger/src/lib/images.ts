// Base images of every container the module starts, in one table: each one by tag (what a reader and the
// bump compare) and by digest (what the engine pulls: a tag can be moved under a pinned build, a digest
// cannot). The service image itself is built from api/Dockerfile, whose NODE_IMAGE the module sets to
// `nodeSlim` below.
//
// Bump: change a tag, then `dagger call image-pins` prints every tag resolved to its current digest
// (the multi-platform index the registry serves for it); copy the digests here. A digest is never
// written by hand.

export interface ImagePin {
  /** `repository:tag`, without digest. */
  tag: string
  /** `sha256:<64 hex>` of the tag's index; undefined only where `unpinned` says why. */
  digest?: string
  unpinned?: string
}

export const IMAGE_PINS = {
  /** Toolbox for npm, tsx, the pipeline CLI and the test suite (Debian: apt has PostgreSQL 15 and Redis 7). */
  node: {
    tag: 'node:22-bookworm',
    digest: 'sha256:cd7bcd2e7a1e6f72052feb023c7f6b722205d3fcab7bbcbd2d1bfdab10b1e935',
  },
  /** Base of the service image (api/Dockerfile's NODE_IMAGE). */
  nodeSlim: {
    tag: 'node:22-bookworm-slim',
    digest: 'sha256:f32b81066cde10a75dbac96646099533316d94bac4150c55da1636e1f0ffdc46',
  },
  postgres: {
    tag: 'postgres:15-bookworm',
    digest: 'sha256:5d1d70e254e3c5d7d76847a9deebb18478cd518df37abf6b278d4bdb1fe5d96c',
  },
  redis: {
    tag: 'redis:7-bookworm',
    digest: 'sha256:595cc6f2bb3af6e03347b90deb6123c6aa2c81dea05ce08128de8a174b6ac67b',
  },
  /** Official k6 image; k6 >= 0.57 runs the TypeScript scripts in loadtests/k6 natively. */
  k6: {
    tag: 'grafana/k6:1.3.0',
    digest: 'sha256:3ddc8b1a33a2c3d8edc6e99b6a762ae36cba08788463458f5e6a7703e14eb77d',
  },
  /** Pulumi CLI + Node.js, same release line as the @pulumi/pulumi SDK in infra/. */
  pulumi: {
    tag: 'pulumi/pulumi-nodejs:3.248.0',
    unpinned: 'no digest of this tag could be resolved yet: run `dagger call image-pins` and pin it',
  },
} as const satisfies Record<string, ImagePin>

export type ImageName = keyof typeof IMAGE_PINS

/** `repository:tag@sha256:...`: the engine pulls the digest; the tag stays for readers. */
export function pinnedReference(pin: ImagePin): string {
  if (pin.digest) {
    if (!/^sha256:[0-9a-f]{64}$/.test(pin.digest))
      throw new Error(`${pin.tag}: malformed digest ${pin.digest}`)
    return `${pin.tag}@${pin.digest}`
  }
  if (!pin.unpinned) throw new Error(`${pin.tag} has no digest`)
  return pin.tag
}

export const IMAGES = Object.fromEntries(
  Object.entries(IMAGE_PINS).map(([name, pin]) => [name, pinnedReference(pin)]),
) as Record<ImageName, string>

/** `name tag@digest` lines, the output of `dagger call image-pins` (see the bump note above). */
export function imagePinLines(resolved: Record<ImageName, string>): string {
  return Object.entries(resolved)
    .map(([name, ref]) => `${name} ${ref}`)
    .join('\n')
}
