import { execFileSync } from 'node:child_process'
import type { Artifact, RunContext } from '../core/types.js'
import { runLogged } from './host-tools.js'

export const IMAGE_NAME = 'whatsapp-saas-api'

/** The container CLI on this host (docker, else podman); a missing one is one line naming what to install. */
export function containerCli(): string {
  for (const cli of ['docker', 'podman']) {
    try {
      execFileSync(cli, ['--version'], { stdio: 'ignore' })
      return cli
    } catch {}
  }
  throw new Error('no container CLI found: install docker (apt-get install -y docker.io) or podman')
}

/**
 * Builds the service image from api/Dockerfile (context: the repository) tagged with the version. The
 * artifact's digest is the image id until publish pushes it and the registry gives the manifest digest.
 */
export async function packageImage(repoRoot: string, version: string, ctx: RunContext): Promise<Artifact> {
  const cli = containerCli()
  const tag = `${IMAGE_NAME}:${version}`
  await runLogged(
    cli,
    [
      'build',
      '--network',
      'host',
      '-f',
      'api/Dockerfile',
      '--build-arg',
      `APP_VERSION=${version}`,
      '-t',
      tag,
      '.',
    ],
    repoRoot,
    ctx,
  )
  const id = execFileSync(cli, ['image', 'inspect', '--format', '{{.Id}}', tag], { encoding: 'utf8' }).trim()
  return { ref: IMAGE_NAME, digest: id.startsWith('sha256:') ? id : `sha256:${id}`, version }
}
