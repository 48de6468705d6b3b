import { createHash } from 'node:crypto'
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs'
import { join, relative } from 'node:path'
import type { Artifact } from '../core/types.js'
import { readJson, writeJson } from './json-file.js'

export const LOCAL_REF = 'local/whatsapp-saas-api'

/** What a release holds, relative to api/: the compiled service, its manifest, and what migrate needs. */
const RELEASE_ENTRIES = ['dist', 'package.json', 'prisma', 'prisma.config.ts']

function listFiles(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return listFiles(root, path)
    return entry.isFile() ? [relative(root, path)] : []
  })
}

/** sha256 over the sorted (path, content hash) pairs of the release tree: same tree, same digest. */
export function treeDigest(apiDir: string, entries = RELEASE_ENTRIES): string {
  const files = entries
    .filter((e) => existsSync(join(apiDir, e)))
    .flatMap((e) => (statSync(join(apiDir, e)).isDirectory() ? listFiles(apiDir, join(apiDir, e)) : [e]))
    .sort()
  const tree = createHash('sha256')
  for (const file of files) {
    const content = createHash('sha256')
      .update(readFileSync(join(apiDir, file)))
      .digest('hex')
    tree.update(`${file}\0${content}\n`)
  }
  return `sha256:${tree.digest('hex')}`
}

export interface ReleaseRecord extends Artifact {
  path: string
  publishedAt?: string
}

/** The content-addressed releases of the local target and the index of the published ones. */
export class ReleaseStore {
  constructor(
    private readonly releasesDir: string,
    private readonly registryFile: string,
  ) {}

  pathOf(digest: string): string {
    return join(this.releasesDir, digest.replace(/^sha256:/, ''))
  }

  /**
   * Copies api/{dist,package.json,prisma,prisma.config.ts} into `releases/<digest>/` (once per digest) with a
   * `node_modules` link to the repository's, so a release runs with the packages installed in the repository.
   */
  package(repoRoot: string, version: string): ReleaseRecord {
    const apiDir = join(repoRoot, 'api')
    if (!existsSync(join(apiDir, 'dist'))) throw new Error('api/dist is missing: the build stage did not run')
    const digest = treeDigest(apiDir)
    const path = this.pathOf(digest)
    if (!existsSync(join(path, 'release.json'))) {
      const staging = `${path}.tmp-${process.pid}`
      rmSync(staging, { recursive: true, force: true })
      mkdirSync(staging, { recursive: true })
      for (const entry of RELEASE_ENTRIES) {
        if (existsSync(join(apiDir, entry)))
          cpSync(join(apiDir, entry), join(staging, entry), { recursive: true })
      }
      symlinkSync(realpathSync(join(repoRoot, 'node_modules')), join(staging, 'node_modules'), 'dir')
      writeJson(join(staging, 'release.json'), {
        ref: LOCAL_REF,
        digest,
        version,
        createdAt: new Date().toISOString(),
      })
      rmSync(path, { recursive: true, force: true })
      renameSync(staging, path)
    }
    return { ref: LOCAL_REF, digest, version, path }
  }

  /** Registers a packaged release in the local registry index (the local equivalent of a push). */
  publish(artifact: Artifact): ReleaseRecord {
    const path = this.pathOf(artifact.digest)
    if (!existsSync(join(path, 'release.json'))) throw new Error(`release ${artifact.digest} is not packaged`)
    const records = this.published().filter((r) => r.digest !== artifact.digest)
    const record: ReleaseRecord = { ...artifact, ref: LOCAL_REF, path, publishedAt: new Date().toISOString() }
    writeJson(this.registryFile, { artifacts: [...records, record] })
    return record
  }

  published(): ReleaseRecord[] {
    return readJson<{ artifacts: ReleaseRecord[] }>(this.registryFile, { artifacts: [] }).artifacts
  }

  find(digest: string): ReleaseRecord | undefined {
    return this.published().find((r) => r.digest === digest)
  }

  /** A packaged release, published or not (dry runs inspect unpublished ones). */
  packaged(artifact: Artifact): ReleaseRecord {
    const path = this.pathOf(artifact.digest)
    if (!existsSync(join(path, 'release.json'))) throw new Error(`release ${artifact.digest} is not packaged`)
    return { ...artifact, path }
  }
}
