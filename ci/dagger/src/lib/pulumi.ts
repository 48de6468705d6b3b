// Pulumi CLI command lines for the infra program (infra/, stacks staging and production). They run in
// the official pulumi/pulumi-nodejs image with the repository's dependencies installed.

const COMMON = ['--cwd', 'infra', '--non-interactive', '--color', 'never']

export function previewCommand(stack: string): string[] {
  return ['pulumi', 'preview', '--stack', stack, '--diff', ...COMMON]
}

/** `up`, then the stack outputs as JSON (outputs marked secret stay masked: no --show-secrets). */
export function provisionCommand(stack: string): string[] {
  const up = ['pulumi', 'up', '--stack', stack, '--yes', '--skip-preview', ...COMMON]
  const outputs = ['pulumi', 'stack', 'output', '--stack', stack, '--json', '--cwd', 'infra']
  return ['sh', '-c', `${up.join(' ')} >&2 && ${outputs.join(' ')}`]
}
