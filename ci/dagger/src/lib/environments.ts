// The deploy environments the module accepts and how each maps onto the pipeline CLI's target/stack.
// `local` is the embedded target (made of Dagger services inside the engine); staging and production
// are AWS stacks of the infra program.

export type EnvironmentName = 'local' | 'staging' | 'production'

export interface PipelineTarget {
  target: 'local' | 'aws'
  stack: string
}

export const ENVIRONMENTS: Record<EnvironmentName, PipelineTarget> = {
  local: { target: 'local', stack: 'local' },
  staging: { target: 'aws', stack: 'staging' },
  production: { target: 'aws', stack: 'production' },
}

export function parseEnvironment(name: string): EnvironmentName {
  if (Object.hasOwn(ENVIRONMENTS, name)) return name as EnvironmentName
  throw new Error(`unknown environment "${name}": expected one of ${Object.keys(ENVIRONMENTS).join(', ')}`)
}

export function pipelineTarget(name: string): PipelineTarget {
  return ENVIRONMENTS[parseEnvironment(name)]
}

/** An environment on AWS; `local` is refused where only a cloud stack makes sense (promote, rollback). */
export function awsEnvironment(name: string): Exclude<EnvironmentName, 'local'> {
  const env = parseEnvironment(name)
  if (env === 'local') throw new Error('this function needs an AWS environment: staging or production')
  return env
}
