// A stateful in-memory AWS account for rehearsals of the AWS target, built on aws-sdk-client-mock: what a
// `pulumi up` registers (from the infrastructure program run under Pulumi mocks) becomes ECR repositories,
// IAM pull rights, task-definition revisions, ECS services, Secrets Manager secrets and S3 buckets; the
// pipeline's calls then act on that state. ECS deployments and one-off tasks only succeed when the task
// definition's image exists in a repository its execution role may pull and every secret it references has
// a value; otherwise they fail the way ECS does (circuit-breaker rollback, CannotPullContainerError).
import { createHash } from 'node:crypto'
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm'
import { BudgetsClient, DescribeBudgetCommand } from '@aws-sdk/client-budgets'
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import {
  BatchGetImageCommand,
  DescribeImagesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  PutImageCommand,
} from '@aws-sdk/client-ecr'
import {
  type ContainerDefinition,
  type Deployment,
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type ServiceEvent,
  type Task,
  type TaskDefinition,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs'
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'

export const ACCOUNT_ID = '123456789012'
const REGION = 'us-east-1'

export interface PulumiItem {
  type: string
  name: string
  inputs: Record<string, unknown>
}

interface Repository {
  name: string
  images: Map<string, { tags: Set<string>; manifest: string }>
  /** Tag patterns that stay mutable (IMMUTABLE_WITH_EXCLUSION); every other tag is immutable. */
  mutable: string[]
}

interface ServiceState {
  cluster: string
  name: string
  taskDefinition: string
  deployments: Deployment[]
  events: ServiceEvent[]
}

const awsError = (name: string, message: string) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } })

/** `sha256:` digest of a pushed image, derived from what was pushed so that it is stable in a test. */
export function digestOf(content: string): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`
}

function wildcard(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  )
}

export class InMemoryAws {
  readonly repositories = new Map<string, Repository>()
  /** Execution role ARN → repository names its policies allow it to pull from. */
  readonly pullRights = new Map<string, Set<string>>()
  readonly taskDefinitions = new Map<string, TaskDefinition>()
  readonly services = new Map<string, ServiceState>()
  /** Secret ARN → value; a secret created without a value is present with `undefined`. */
  readonly secrets = new Map<string, string | undefined>()
  readonly buckets = new Map<string, Map<string, string>>()
  readonly logStreams = new Map<string, string[]>()
  readonly tasks = new Map<string, Task>()
  /** Pulumi resource name → the revision it registered last, with the inputs it registered. */
  private readonly pulumiRevisions = new Map<string, { arn: string; inputs: string }>()
  private readonly secretIds = new Map<string, string>()
  private counter = 0
  private clock = Date.parse('2026-11-29T10:00:00Z')
  /** What the image's ops commands print for a command (their last line is the JSON result). */
  opsOutput: (command: string[], image: string) => { exitCode: number; lines: string[] } = () => ({
    exitCode: 0,
    lines: ['{}'],
  })
  readonly mocks = {
    sts: mockClient(STSClient),
    acm: mockClient(ACMClient),
    sns: mockClient(SNSClient),
    budgets: mockClient(BudgetsClient),
    s3: mockClient(S3Client),
    ecr: mockClient(ECRClient),
    ecs: mockClient(ECSClient),
    logs: mockClient(CloudWatchLogsClient),
    elbv2: mockClient(ElasticLoadBalancingV2Client),
    secretsManager: mockClient(SecretsManagerClient),
  }

  constructor() {
    this.wire()
  }

  restore(): void {
    for (const mock of Object.values(this.mocks)) mock.restore()
  }

  // ---- what `pulumi up` does to the account -----------------------------------------------------------

  /**
   * Applies one `up` of a stack: the resources its program registered under Pulumi mocks become account
   * state. Returns the stack outputs as `pulumi stack output` shows them (task-definition ARNs are the
   * revisions this up registered).
   */
  applyPulumi(inventory: PulumiItem[], outputs: Record<string, unknown>): Record<string, string> {
    const mockArn = (item: PulumiItem) => {
      const module = item.type.split(':')[1]?.split('/')[0] ?? 'mock'
      const service = { lb: 'elasticloadbalancing', vpc: 'ec2' }[module] ?? module
      return `arn:aws:${service}:${REGION}:${ACCOUNT_ID}:${item.name}`
    }
    const clusterNames = new Map<string, string>()
    for (const item of inventory) {
      const inputs = item.inputs
      switch (item.type) {
        case 'aws:ecr/repository:Repository': {
          const name = String(inputs.name)
          if (!this.repositories.has(name)) {
            const filters = (inputs.imageTagMutabilityExclusionFilters ?? []) as { filter: string }[]
            this.repositories.set(name, {
              name,
              images: new Map(),
              mutable: inputs.imageTagMutability === 'MUTABLE' ? ['*'] : filters.map((f) => f.filter),
            })
          }
          break
        }
        case 'aws:secretsmanager/secret:Secret': {
          const arn = mockArn(item)
          this.secretIds.set(`${item.name}-id`, arn)
          if (!this.secrets.has(arn)) this.secrets.set(arn, undefined)
          break
        }
        case 'aws:s3/bucket:Bucket':
          if (!this.buckets.has(String(inputs.bucket))) this.buckets.set(String(inputs.bucket), new Map())
          break
        case 'aws:ecs/cluster:Cluster':
          clusterNames.set(mockArn(item), String(inputs.name))
          break
      }
    }
    for (const item of inventory) {
      if (item.type === 'aws:secretsmanager/secretVersion:SecretVersion') {
        const arn = this.secretIds.get(String(item.inputs.secretId))
        // Generated values are Pulumi secrets (redacted in the inventory): a value distinct per secret, kept
        // across ups as Pulumi keeps a generated password, so a test can look for it in logs and reports.
        if (arn)
          this.secrets.set(
            arn,
            item.inputs.secretString !== undefined && item.inputs.secretString !== '[secret]'
              ? String(item.inputs.secretString)
              : (this.secrets.get(arn) ??
                  `generated-${createHash('sha256').update(arn).digest('hex').slice(0, 32)}`),
          )
      }
      if (item.type === 'aws:iam/rolePolicy:RolePolicy') {
        const role = `arn:aws:iam:${REGION}:${ACCOUNT_ID}:${String(item.inputs.role).replace(/-id$/, '')}`
        const statements = (JSON.parse(String(item.inputs.policy)).Statement ?? []) as {
          Effect: string
          Action: string | string[]
          Resource: string | string[]
        }[]
        for (const statement of statements) {
          const actions = ([] as string[]).concat(statement.Action)
          if (statement.Effect !== 'Allow' || !actions.includes('ecr:BatchGetImage')) continue
          for (const resource of ([] as string[]).concat(statement.Resource)) {
            const name = resource.slice(resource.lastIndexOf(':') + 1).replace(/^repository\//, '')
            const rights = this.pullRights.get(role) ?? new Set()
            rights.add(name)
            this.pullRights.set(role, rights)
          }
        }
      }
    }
    // Task definitions: a changed one is a new revision (Pulumi replaces the resource); the replaced
    // revision is deregistered unless the program keeps it (skipDestroy), as the AWS provider does.
    const registeredArn = new Map<string, string>()
    for (const item of inventory.filter((i) => i.type === 'aws:ecs/taskDefinition:TaskDefinition')) {
      const inputs = item.inputs
      const content = JSON.stringify(inputs)
      const last = this.pulumiRevisions.get(item.name)
      // The mocks shape a task definition's ARN like AWS (`task-definition/<family>:1`); older mocks used
      // the resource name: both lead to the revision registered here.
      const keys = [
        mockArn(item),
        `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task-definition/${String(inputs.family)}:1`,
      ]
      if (last && last.inputs === content) {
        for (const key of keys) registeredArn.set(key, last.arn)
        continue
      }
      const definition = this.register({
        family: String(inputs.family),
        cpu: String(inputs.cpu),
        memory: String(inputs.memory),
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        executionRoleArn: inputs.executionRoleArn as string,
        ...(inputs.taskRoleArn ? { taskRoleArn: inputs.taskRoleArn as string } : {}),
        containerDefinitions: JSON.parse(String(inputs.containerDefinitions)) as ContainerDefinition[],
      })
      if (last && inputs.skipDestroy !== true) this.taskDefinitions.get(last.arn)!.status = 'INACTIVE'
      this.pulumiRevisions.set(item.name, { arn: definition.taskDefinitionArn!, inputs: content })
      for (const key of keys) registeredArn.set(key, definition.taskDefinitionArn!)
    }
    for (const item of inventory.filter((i) => i.type === 'aws:ecs/service:Service')) {
      const cluster = clusterNames.get(String(item.inputs.cluster)) ?? String(item.inputs.cluster)
      const name = String(item.inputs.name)
      const revision = registeredArn.get(String(item.inputs.taskDefinition))!
      const existing = this.services.get(`${cluster}/${name}`)
      // The API and worker services ignore taskDefinition in Pulumi (the pipeline moves them); the
      // staging-only fake Graph API follows Pulumi's revision.
      if (existing && (name.endsWith('-api') || name.endsWith('-worker'))) continue
      if (existing?.taskDefinition === revision) continue
      const state = existing ?? { cluster, name, taskDefinition: revision, deployments: [], events: [] }
      this.services.set(`${cluster}/${name}`, state)
      this.startDeployment(state, revision)
    }
    const text: Record<string, string> = {}
    for (const [key, value] of Object.entries(outputs)) {
      if (value === undefined || value === null || value === '') continue
      text[key] = Array.isArray(value) ? value.join(',') : String(value)
    }
    for (const key of ['apiTaskDefinitionArn', 'workerTaskDefinitionArn']) {
      if (text[key]) text[key] = registeredArn.get(text[key]) ?? text[key]
    }
    return text
  }

  /** The value of the secret whose ARN ends with the suffix (what ECS injects into a task). */
  secretValue(arnSuffix: string): string | undefined {
    const arn = [...this.secrets.keys()].find((candidate) => candidate.endsWith(arnSuffix))
    return arn ? this.secrets.get(arn) : undefined
  }

  /** An operator's one-time step: put a secret's value (e.g. Meta's credentials). */
  putSecret(arnSuffix: string, value: string): void {
    const arn = [...this.secrets.keys()].find((candidate) => candidate.endsWith(arnSuffix))
    if (!arn) throw new Error(`no secret *${arnSuffix}`)
    this.secrets.set(arn, value)
  }

  /** What `docker push <repositoryUrl>:<tag>` does: the image lands under that tag with its digest. */
  push(repositoryUrl: string, tag: string, content = tag): string {
    const repository = this.repositoryOf(repositoryUrl)
    if (!repository) throw new Error(`push: no repository ${repositoryUrl}`)
    const digest = digestOf(content)
    const image = repository.images.get(digest) ?? {
      tags: new Set<string>(),
      manifest: `{"layers":["${content}"]}`,
    }
    image.tags.add(tag)
    repository.images.set(digest, image)
    return digest
  }

  /** The image the service's current revision runs. */
  servingImage(cluster: string, service: string): string {
    const state = this.services.get(`${cluster}/${service}`)!
    return this.taskDefinitions.get(state.taskDefinition)!.containerDefinitions![0]!.image!
  }

  tagsOf(repositoryName: string, digest: string): string[] {
    return [...(this.repositories.get(repositoryName)?.images.get(digest)?.tags ?? [])].sort()
  }

  /** The revision EventBridge Scheduler runs for a family ARN without revision: the latest ACTIVE one. */
  latestActive(family: string): TaskDefinition | undefined {
    return [...this.taskDefinitions.values()]
      .filter((definition) => definition.family === family && definition.status === 'ACTIVE')
      .sort((a, b) => b.revision! - a.revision!)[0]
  }

  // ---- the rules of the account ----------------------------------------------------------------------

  private repositoryOf(reference: string): Repository | undefined {
    const match = /^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/([^:@]+)/.exec(reference)
    return match?.[1] === ACCOUNT_ID ? this.repositories.get(match[2]!) : undefined
  }

  /** Why ECS could not start this revision, or undefined when it can. */
  unrunnable(definition: TaskDefinition): string | undefined {
    for (const container of definition.containerDefinitions ?? []) {
      const image = container.image ?? ''
      const repository = this.repositoryOf(image)
      if (!repository) return `CannotPullContainerError: ${image}: repository not found`
      if (!this.pullRights.get(definition.executionRoleArn ?? '')?.has(repository.name))
        return `CannotPullContainerError: ${definition.executionRoleArn} is not authorized to pull from ${repository.name}`
      const digest = image.includes('@') ? image.slice(image.indexOf('@') + 1) : undefined
      const tag = digest ? undefined : image.slice(image.lastIndexOf(':') + 1)
      const found = digest
        ? repository.images.has(digest)
        : [...repository.images.values()].some((candidate) => candidate.tags.has(tag!))
      if (!found) return `CannotPullContainerError: ${image}: not found`
      for (const secret of container.secrets ?? []) {
        const arn = secret.valueFrom!.replace(/:[^:]*::$/, '')
        if (!this.secrets.has(arn) || this.secrets.get(arn) === undefined)
          return `ResourceInitializationError: unable to pull secrets: ${secret.valueFrom} has no value`
      }
    }
    return undefined
  }

  private register(input: TaskDefinition): TaskDefinition {
    const family = input.family!
    const revision =
      Math.max(
        0,
        ...[...this.taskDefinitions.values()].filter((d) => d.family === family).map((d) => d.revision!),
      ) + 1
    const definition: TaskDefinition = {
      ...structuredClone(input),
      taskDefinitionArn: `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task-definition/${family}:${revision}`,
      revision,
      status: 'ACTIVE',
      compatibilities: ['EC2', 'FARGATE'],
      registeredAt: new Date(this.clock),
    }
    this.taskDefinitions.set(definition.taskDefinitionArn!, definition)
    return definition
  }

  private describeDefinition(requested: string): TaskDefinition | undefined {
    return (
      this.taskDefinitions.get(requested) ??
      (requested.includes(':')
        ? [...this.taskDefinitions.values()].find((d) => `${d.family}:${d.revision}` === requested)
        : this.latestActive(requested))
    )
  }

  private event(state: ServiceState, message: string) {
    this.clock += 1000
    state.events.unshift({ id: String(++this.counter), createdAt: new Date(this.clock), message })
  }

  private startDeployment(state: ServiceState, taskDefinition: string): Deployment {
    for (const deployment of state.deployments) deployment.status = 'ACTIVE'
    const deployment: Deployment = {
      id: `ecs-svc/${++this.counter}`,
      status: 'PRIMARY',
      taskDefinition,
      rolloutState: 'IN_PROGRESS',
      desiredCount: 2,
      runningCount: 0,
      failedTasks: 0,
    }
    state.deployments.unshift(deployment)
    return deployment
  }

  /** One poll of ECS's deployment controller: an IN_PROGRESS deployment completes or fails. */
  private advance(state: ServiceState) {
    const deployment = state.deployments.find((candidate) => candidate.rolloutState === 'IN_PROGRESS')
    if (!deployment) return
    const problem = this.unrunnable(this.taskDefinitions.get(deployment.taskDefinition!)!)
    if (!problem) {
      deployment.rolloutState = 'COMPLETED'
      deployment.runningCount = deployment.desiredCount
      state.deployments = [deployment]
      state.taskDefinition = deployment.taskDefinition!
      this.event(state, `(service ${state.name}) has reached a steady state.`)
      return
    }
    deployment.rolloutState = 'FAILED'
    deployment.failedTasks = 3
    deployment.rolloutStateReason = `ECS deployment circuit breaker: tasks failed to start (${problem}).`
    const previous = state.deployments.find(
      (candidate) => candidate !== deployment && candidate.rolloutState === 'COMPLETED',
    )
    this.event(state, `(service ${state.name}) deployment ${deployment.id} deployment failed: ${problem}`)
    if (previous) {
      const rollback = this.startDeployment(state, previous.taskDefinition!)
      rollback.rolloutState = 'COMPLETED'
      rollback.runningCount = rollback.desiredCount
      state.deployments = [rollback, deployment]
      state.taskDefinition = previous.taskDefinition!
    }
  }

  private wire() {
    const { sts, acm, sns, budgets, s3, ecr, ecs, logs, elbv2, secretsManager } = this.mocks
    secretsManager.on(GetSecretValueCommand).callsFake((input) => {
      const value = this.secrets.get(input.SecretId)
      if (value === undefined)
        throw awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value")
      return { ARN: input.SecretId, SecretString: value }
    })
    sts.on(GetCallerIdentityCommand).resolves({
      Account: ACCOUNT_ID,
      Arn: `arn:aws:sts::${ACCOUNT_ID}:assumed-role/github-deploy/ci`,
    })
    acm.on(DescribeCertificateCommand).callsFake((input) => ({
      Certificate: {
        CertificateArn: input.CertificateArn,
        Status: 'ISSUED',
        DomainName: '*.example.com',
        SubjectAlternativeNames: ['*.example.com', '*.staging.example.com', 'example.com'],
      },
    }))
    sns.on(ListSubscriptionsByTopicCommand).callsFake((input) => ({
      Subscriptions: [
        { SubscriptionArn: `${input.TopicArn}:1`, Protocol: 'email', Endpoint: 'ops@example.com' },
      ],
    }))
    budgets.on(DescribeBudgetCommand).callsFake((input) => ({
      Budget: { BudgetName: input.BudgetName, BudgetLimit: { Amount: '200', Unit: 'USD' } } as never,
    }))

    const bucket = (name: string) => {
      const found = this.buckets.get(name)
      if (!found) throw awsError('NoSuchBucket', `The specified bucket ${name} does not exist`)
      return found
    }
    s3.on(PutObjectCommand).callsFake((input) => {
      const objects = bucket(input.Bucket)
      if (input.IfNoneMatch === '*' && objects.has(input.Key))
        throw Object.assign(awsError('PreconditionFailed', 'At least one of the pre-conditions failed'), {
          $metadata: { httpStatusCode: 412 },
        })
      objects.set(input.Key, String(input.Body))
      return {}
    })
    s3.on(GetObjectCommand).callsFake((input) => {
      const body = bucket(input.Bucket).get(input.Key)
      if (body === undefined) throw awsError('NoSuchKey', 'The specified key does not exist.')
      return { Body: { transformToString: async () => body } }
    })
    s3.on(DeleteObjectCommand).callsFake((input) => {
      bucket(input.Bucket).delete(input.Key)
      return {}
    })

    const repository = (name: string) => {
      const found = this.repositories.get(name)
      if (!found) throw awsError('RepositoryNotFoundException', `The repository ${name} does not exist`)
      return found
    }
    const findImage = (repo: Repository, id: { imageTag?: string; imageDigest?: string }) =>
      id.imageDigest
        ? repo.images.has(id.imageDigest)
          ? id.imageDigest
          : undefined
        : [...repo.images.entries()].find(([, image]) => image.tags.has(id.imageTag!))?.[0]
    ecr.on(DescribeImagesCommand).callsFake((input) => {
      const repo = repository(input.repositoryName)
      const digest = findImage(repo, input.imageIds[0])
      if (!digest) throw awsError('ImageNotFoundException', 'The image requested does not exist')
      // ECR lists tags in no promised order: position tags first here, so a reader taking tags[0] as the
      // version is caught.
      const tags = [...repo.images.get(digest)!.tags].sort(
        (a, b) => Number(/-(current|previous)$/.test(b)) - Number(/-(current|previous)$/.test(a)),
      )
      return { imageDetails: [{ imageDigest: digest, imageTags: tags, repositoryName: repo.name }] }
    })
    ecr.on(BatchGetImageCommand).callsFake((input) => {
      const repo = repository(input.repositoryName)
      const digest = findImage(repo, input.imageIds[0])
      if (!digest) return { images: [], failures: [{ failureCode: 'ImageNotFound' }] }
      return {
        images: [{ imageId: { imageDigest: digest }, imageManifest: repo.images.get(digest)!.manifest }],
      }
    })
    ecr.on(PutImageCommand).callsFake((input) => {
      const repo = repository(input.repositoryName)
      const digest = input.imageDigest ?? digestOf(input.imageManifest)
      const target = repo.images.get(digest)
      if (!target) throw awsError('ImageNotFoundException', 'manifest not in the repository')
      if (target.tags.has(input.imageTag)) throw awsError('ImageAlreadyExistsException', 'already tagged')
      const holder = [...repo.images.values()].find((image) => image.tags.has(input.imageTag))
      if (holder) {
        if (!repo.mutable.some((pattern) => wildcard(pattern).test(input.imageTag)))
          throw awsError('ImageTagAlreadyExistsException', `tag ${input.imageTag} is immutable`)
        holder.tags.delete(input.imageTag)
      }
      target.tags.add(input.imageTag)
      return { image: { imageId: { imageDigest: digest, imageTag: input.imageTag } } }
    })
    ecr.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [{ authorizationToken: Buffer.from('AWS:token').toString('base64') }],
    })

    const service = (cluster: string, name: string) => this.services.get(`${cluster}/${name}`)
    ecs.on(DescribeServicesCommand).callsFake((input) => ({
      services: (input.services ?? []).flatMap((name: string) => {
        const state = service(input.cluster, name)
        if (!state) return []
        this.advance(state)
        return [
          {
            serviceName: name,
            status: 'ACTIVE',
            taskDefinition: state.taskDefinition,
            desiredCount: 2,
            runningCount: 2,
            deployments: structuredClone(state.deployments),
            events: structuredClone(state.events),
          },
        ]
      }),
      failures: (input.services ?? [])
        .filter((name: string) => !service(input.cluster, name))
        .map((name: string) => ({ arn: name, reason: 'MISSING' })),
    }))
    ecs.on(UpdateServiceCommand).callsFake((input) => {
      const state = service(input.cluster, input.service)
      if (!state) throw awsError('ServiceNotFoundException', 'Service not found.')
      const definition = this.describeDefinition(input.taskDefinition)
      if (!definition) throw awsError('ClientException', 'TaskDefinition not found.')
      this.startDeployment(state, definition.taskDefinitionArn!)
      return { service: { serviceName: state.name, deployments: structuredClone(state.deployments) } }
    })
    ecs.on(DescribeTaskDefinitionCommand).callsFake((input) => {
      const definition = this.describeDefinition(input.taskDefinition)
      if (!definition) throw awsError('ClientException', 'Unable to describe task definition.')
      return { taskDefinition: structuredClone(definition), tags: [] }
    })
    ecs.on(RegisterTaskDefinitionCommand).callsFake((input) => {
      const { tags: _tags, ...rest } = input
      return { taskDefinition: this.register(rest as TaskDefinition) }
    })
    ecs.on(DeregisterTaskDefinitionCommand).callsFake((input) => {
      const definition = this.describeDefinition(input.taskDefinition)
      if (!definition) throw awsError('ClientException', 'Unable to describe task definition.')
      definition.status = 'INACTIVE'
      return { taskDefinition: structuredClone(definition) }
    })
    ecs.on(ListTaskDefinitionsCommand).callsFake((input) => ({
      taskDefinitionArns: [...this.taskDefinitions.values()]
        .filter((d) => d.family === input.familyPrefix && d.status === (input.status ?? 'ACTIVE'))
        .sort((a, b) => (input.sort === 'ASC' ? a.revision! - b.revision! : b.revision! - a.revision!))
        .map((d) => d.taskDefinitionArn!),
    }))
    ecs.on(ListTasksCommand).resolves({ taskArns: [] })
    ecs.on(RunTaskCommand).callsFake((input) => {
      const definition = this.describeDefinition(input.taskDefinition)
      if (!definition) throw awsError('ClientException', 'TaskDefinition not found.')
      const id = `task${++this.counter}`
      const taskArn = `arn:aws:ecs:${REGION}:${ACCOUNT_ID}:task/${input.cluster}/${id}`
      const container = definition.containerDefinitions![0]!
      const override = input.overrides?.containerOverrides?.find(
        (c: { name: string }) => c.name === container.name,
      )
      const problem = this.unrunnable(definition)
      if (problem) {
        this.tasks.set(taskArn, {
          taskArn,
          lastStatus: 'STOPPED',
          stopCode: 'TaskFailedToStart',
          stoppedReason: problem,
          containers: [{ name: container.name }],
        })
      } else {
        const ran = this.opsOutput(override?.command ?? container.command ?? [], container.image!)
        const prefix = container.logConfiguration?.options?.['awslogs-stream-prefix']
        this.logStreams.set(`${prefix}/${container.name}/${id}`, ran.lines)
        this.tasks.set(taskArn, {
          taskArn,
          taskDefinitionArn: definition.taskDefinitionArn,
          lastStatus: 'STOPPED',
          stoppedReason: 'Essential container in task exited',
          containers: [{ name: container.name, exitCode: ran.exitCode }],
        })
      }
      return { tasks: [{ taskArn, lastStatus: 'PROVISIONING' }] }
    })
    ecs.on(DescribeTasksCommand).callsFake((input) => ({
      tasks: (input.tasks ?? []).flatMap((arn: string) => {
        const task = this.tasks.get(arn)
        return task ? [structuredClone(task)] : []
      }),
    }))
    logs.on(GetLogEventsCommand).callsFake((input) => {
      const lines = this.logStreams.get(input.logStreamName)
      if (!lines) throw awsError('ResourceNotFoundException', 'The specified log stream does not exist.')
      if (input.nextToken) return { events: [], nextForwardToken: input.nextToken }
      return { events: lines.map((message) => ({ message })), nextForwardToken: 'f/end' }
    })
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: '10.0.11.7', Port: 3000 }, TargetHealth: { State: 'healthy' } },
      ],
    })
  }
}
