// The service image repository, shared by every stack: the owner stack (staging) creates it, the others
// reference it by name, so production pulls the very digest staging tested (no rebuild, no copy).
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import { PROJECT, type StackConfig } from './config.js'

export interface ImageRepository {
  repositoryUrl: pulumi.Output<string>
  repositoryArn: pulumi.Output<string>
  /** The repository as a resource, only in the owner stack. */
  repository?: aws.ecr.Repository
}

/**
 * Tags the pipeline moves onto what a stack serves and what it can roll back to (`staging-current`,
 * `production-current`, `production-previous`, ...). They are the only mutable tags of the repository
 * (version tags stay immutable) and the lifecycle never expires an image carrying one.
 */
export const PROTECTED_TAG_PATTERNS = ['*-current', '*-previous'] as const

/** Images kept besides the protected ones: the history a `rollback --to <digest>` can still reach. */
export const KEPT_IMAGES = 30

export function imageRepositoryName(owner: string): string {
  return `${PROJECT}-${owner}-api`
}

/**
 * ECR evaluates lifecycle rules by priority, and "an image that matches the tagging requirements of a rule
 * cannot be expired by a rule with a lower priority" (ECR User Guide, lifecycle policy evaluation rules).
 * So each protected pattern gets a higher-priority rule whose count is never reached: it selects the
 * protected images and expires nothing, which shields them from the count rule below.
 */
export function lifecyclePolicy(): string {
  const keep = PROTECTED_TAG_PATTERNS.map((pattern, index) => ({
    rulePriority: index + 1,
    description: `Never expire an image tagged ${pattern} (served or a rollback target)`,
    selection: {
      tagStatus: 'tagged',
      tagPatternList: [pattern],
      countType: 'imageCountMoreThan',
      countNumber: 10_000,
    },
    action: { type: 'expire' },
  }))
  return JSON.stringify({
    rules: [
      ...keep,
      {
        rulePriority: 10,
        description: 'Drop untagged images after 7 days',
        selection: {
          tagStatus: 'untagged',
          countType: 'sinceImagePushed',
          countUnit: 'days',
          countNumber: 7,
        },
        action: { type: 'expire' },
      },
      {
        rulePriority: 20,
        description: `Keep the ${KEPT_IMAGES} newest other images`,
        selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: KEPT_IMAGES },
        action: { type: 'expire' },
      },
    ],
  })
}

export function createImageRepository(
  config: StackConfig,
  args: { dataKeyArn: pulumi.Input<string>; accountId: pulumi.Input<string> },
): ImageRepository {
  const concern = new Concern('ImageRepository', config)
  const owner = config.imageRepository.owner
  const name = imageRepositoryName(owner)
  if (owner !== config.stack) {
    // Referenced by name, not looked up: the owner stack may be created in the same `up` run of CI, and the
    // URL and ARN of an ECR repository follow from account, region and name.
    return {
      repositoryUrl: pulumi.interpolate`${args.accountId}.dkr.ecr.${config.region}.amazonaws.com/${name}`,
      repositoryArn: pulumi.interpolate`arn:aws:ecr:${config.region}:${args.accountId}:repository/${name}`,
    }
  }
  const p = config.namePrefix
  const repository = new aws.ecr.Repository(
    `${p}-api`,
    {
      name,
      imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: PROTECTED_TAG_PATTERNS.map((filter) => ({
        filter,
        filterType: 'WILDCARD',
      })),
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfigurations: [{ encryptionType: 'KMS', kmsKey: args.dataKeyArn }],
      forceDelete: false,
      tags: { ...config.tags, Name: name },
    },
    concern.child(),
  )
  new aws.ecr.LifecyclePolicy(
    `${p}-api-lifecycle`,
    {
      repository: repository.name,
      policy: lifecyclePolicy(),
    },
    concern.child(),
  )
  return { repository, repositoryUrl: repository.repositoryUrl, repositoryArn: repository.arn }
}
