// The host's container CLI (docker or podman) for tagging and pushing the image to ECR. Behind an interface
// so tests script it; the registry password only ever travels on the CLI's stdin.
import { spawn } from 'node:child_process'
import { AwsTargetError, ToolMissingError } from './errors.js'

export interface ContainerCli {
  readonly name: string
  login(registry: string, username: string, password: string): Promise<void>
  tag(source: string, target: string): Promise<void>
  push(image: string): Promise<void>
}

function run(
  command: string,
  args: string[],
  stdin?: string,
  onLine?: (line: string) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk
      for (const line of chunk.toString().split('\n')) if (line.trim()) onLine?.(line.trim())
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(stdout)
      else
        reject(
          new AwsTargetError(
            `${command} ${args[0]} failed (exit ${code}): ${stderr.trim().split('\n').at(-1) ?? ''}`,
          ),
        )
    })
    child.stdin.end(stdin ?? '')
  })
}

async function available(command: string): Promise<boolean> {
  try {
    await run(command, ['--version'])
    return true
  } catch {
    return false
  }
}

export function hostContainerCli(command: string, onLine?: (line: string) => void): ContainerCli {
  return {
    name: command,
    login: async (registry, username, password) => {
      await run(command, ['login', '--username', username, '--password-stdin', registry], password)
    },
    tag: async (source, target) => {
      await run(command, ['tag', source, target])
    },
    push: async (image) => {
      await run(command, ['push', image], undefined, onLine)
    },
  }
}

/** docker when present, else podman; neither is one clear error naming what to install. */
export async function detectContainerCli(onLine?: (line: string) => void): Promise<ContainerCli> {
  for (const command of ['docker', 'podman']) {
    if (await available(command)) return hostContainerCli(command, onLine)
  }
  throw new ToolMissingError(
    'no container CLI found: install docker (apt-get install docker.io) or podman to push the image to ECR',
  )
}
