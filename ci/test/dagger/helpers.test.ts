import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, describe, expect, it } from 'vitest'
import { awsRegionVariables, awsSecretVariables } from '../../dagger/src/lib/aws-credentials.js'
import { ecrRegistryAuth, ecrRepositoryName, publishedImage } from '../../dagger/src/lib/ecr-auth.js'
import { awsEnvironment, parseEnvironment, pipelineTarget } from '../../dagger/src/lib/environments.js'
import { imageTag, parseDigestRef, registryHost, toDigestRef } from '../../dagger/src/lib/image-ref.js'
import { IMAGE_PINS } from '../../dagger/src/lib/images.js'
import { K6_SCRIPTS, k6Command, k6DurationEnv, k6Verdict } from '../../dagger/src/lib/k6.js'
import {
  backupCommand,
  deployCommand,
  migrateCommand,
  recordingExitCode,
  rollbackCommand,
} from '../../dagger/src/lib/pipeline-cli.js'
import {
  K6_BINARY,
  pipelineContainerPlan,
  STACK_OUTPUTS_PATH,
} from '../../dagger/src/lib/pipeline-container.js'
import { previewCommand, provisionCommand } from '../../dagger/src/lib/pulumi.js'
import { smokeCommand, smokeSecretVariables } from '../../dagger/src/lib/smoke.js'
import { INSTALL_MANIFESTS, SOURCE_IGNORE } from '../../dagger/src/lib/source-filter.js'

const REPO = resolve(import.meta.dirname, '../../..')
const DIGEST = `sha256:${'ab'.repeat(32)}`
const ECR = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/whatsapp-saas-api'

describe('environments', () => {
  it('maps local to the embedded target and staging/production to AWS stacks', () => {
    expect(pipelineTarget('local')).toEqual({ target: 'local', stack: 'local' })
    expect(pipelineTarget('staging')).toEqual({ target: 'aws', stack: 'staging' })
    expect(pipelineTarget('production')).toEqual({ target: 'aws', stack: 'production' })
  })

  it('refuses unknown environments and local where only AWS makes sense', () => {
    expect(() => parseEnvironment('prod')).toThrow(
      /unknown environment "prod": expected one of local, staging, production/,
    )
    expect(() => parseEnvironment('toString')).toThrow(/unknown environment/)
    expect(() => awsEnvironment('local')).toThrow(/staging or production/)
    expect(awsEnvironment('production')).toBe('production')
  })
})

describe('image references', () => {
  it('turns what Container.publish answers into repository@digest', () => {
    expect(toDigestRef(`${ECR}:abc1234@${DIGEST}`)).toBe(`${ECR}@${DIGEST}`)
    expect(toDigestRef(`localhost:5000/api:v1@${DIGEST}`)).toBe(`localhost:5000/api@${DIGEST}`)
    expect(toDigestRef(`localhost:5000/api@${DIGEST}`)).toBe(`localhost:5000/api@${DIGEST}`)
  })

  it('refuses tags without a digest and malformed digests', () => {
    expect(() => parseDigestRef(`${ECR}:latest`)).toThrow(/has no digest/)
    expect(() => parseDigestRef(`${ECR}@sha256:1234`)).toThrow(/malformed digest/)
    expect(() => parseDigestRef(`${ECR}@md5:${'ab'.repeat(32)}`)).toThrow(/malformed digest/)
    expect(parseDigestRef(`${ECR}@${DIGEST}`)).toEqual({ repository: ECR, digest: DIGEST })
  })

  it('tags a build with its version and refuses repositories that already carry one', () => {
    expect(imageTag(ECR, 'abc1234')).toBe(`${ECR}:abc1234`)
    expect(imageTag('localhost:5000/api', 'v1')).toBe('localhost:5000/api:v1')
    expect(() => imageTag(`${ECR}:x`, 'abc')).toThrow(/must not carry a tag/)
    expect(() => imageTag(ECR, 'has space')).toThrow(/not a valid image tag/)
    expect(registryHost(ECR)).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com')
    expect(() => registryHost('api')).toThrow(/no registry host/)
  })
})

describe('AWS credentials', () => {
  it('passes a complete key pair with the OIDC session token as secret variables', () => {
    expect(awsSecretVariables({ accessKeyId: 'a', secretAccessKey: 's', sessionToken: 't' })).toEqual([
      { name: 'AWS_ACCESS_KEY_ID', secret: 'a' },
      { name: 'AWS_SECRET_ACCESS_KEY', secret: 's' },
      { name: 'AWS_SESSION_TOKEN', secret: 't' },
    ])
    expect(awsSecretVariables({ accessKeyId: 'a', secretAccessKey: 's' }).map((v) => v.name)).toEqual([
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
    ])
    expect(awsSecretVariables({})).toEqual([])
  })

  it('refuses half a key pair', () => {
    expect(() => awsSecretVariables({ accessKeyId: 'a' })).toThrow(/incomplete/)
    expect(() => awsSecretVariables({ secretAccessKey: 's', sessionToken: 't' })).toThrow(/incomplete/)
  })

  it('sets both region variables and refuses what is not a region', () => {
    expect(awsRegionVariables('eu-west-1')).toEqual({
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
    })
    expect(awsRegionVariables('us-gov-west-1').AWS_REGION).toBe('us-gov-west-1')
    expect(() => awsRegionVariables('europe')).toThrow(/not an AWS region/)
  })
})

// One mock of the client class for the whole file: a second mockClient(ECRClient) would replace the first.
const ecr = mockClient(ECRClient)

describe('ECR registry auth', () => {
  afterEach(() => ecr.reset())

  it('decodes the authorization token into user, password and registry host', async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [
        {
          authorizationToken: Buffer.from('AWS:pass:with:colons').toString('base64'),
          proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com',
        },
      ],
    })
    await expect(ecrRegistryAuth(new ECRClient({ region: 'eu-west-1' }))).resolves.toEqual({
      registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      username: 'AWS',
      password: 'pass:with:colons',
    })
  })

  it('fails clearly when ECR returns nothing usable', async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [] })
    await expect(ecrRegistryAuth(new ECRClient({ region: 'eu-west-1' }))).rejects.toThrow(
      /ecr:GetAuthorizationToken/,
    )
    ecr.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [
        { authorizationToken: Buffer.from('nocolon').toString('base64'), proxyEndpoint: 'https://x.y' },
      ],
    })
    await expect(ecrRegistryAuth(new ECRClient({ region: 'eu-west-1' }))).rejects.toThrow(/<user>:<password>/)
  })
})

describe('publish on a re-run (ECR tags are immutable)', () => {
  afterEach(() => ecr.reset())
  const repository = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/whatsapp-saas/api'
  const digest = `sha256:${'c'.repeat(64)}`

  it('returns the digest ECR already holds for the revision tag, instead of pushing it again', async () => {
    ecr
      .on(DescribeImagesCommand, { repositoryName: 'whatsapp-saas/api', imageIds: [{ imageTag: 'abc123' }] })
      .resolves({
        imageDetails: [{ imageDigest: digest, imageTags: ['abc123'] }],
      })
    await expect(publishedImage(new ECRClient({ region: 'eu-west-1' }), repository, 'abc123')).resolves.toBe(
      `${repository}@${digest}`,
    )
  })

  it('pushes when the tag is not there yet, and fails on any other ECR error', async () => {
    const client = new ECRClient({ region: 'eu-west-1' })
    ecr
      .on(DescribeImagesCommand)
      .rejects(Object.assign(new Error('no image'), { name: 'ImageNotFoundException' }))
    await expect(publishedImage(client, repository, 'abc123')).resolves.toBeUndefined()
    ecr
      .on(DescribeImagesCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }))
    await expect(publishedImage(client, repository, 'abc123')).rejects.toThrow('denied')
  })

  it('names the repository as ECR does (everything after the registry host)', () => {
    expect(ecrRepositoryName(repository)).toBe('whatsapp-saas/api')
    expect(() => ecrRepositoryName('docker.io/library/node')).toThrow(/not an ECR repository URL/)
  })

  it("is what the module's publish asks before it pushes", () => {
    const index = readFileSync(join(REPO, 'ci/dagger/src/index.ts'), 'utf8')
    const publish = index.slice(index.indexOf('async publish('), index.indexOf('async preview('))
    expect(publish.indexOf('await publishedImage(')).toBeGreaterThan(0)
    expect(publish.indexOf('await publishedImage(')).toBeLessThan(publish.indexOf('.publish('))
  })
})

describe('the container of a pipeline CLI command', () => {
  it('is the Pulumi image for every AWS command, so stack outputs can be read (rollback included)', () => {
    for (const command of ['deploy', 'promote', 'migrate', 'rollback'] as const) {
      expect(pipelineContainerPlan(command).image, command).toBe('pulumi')
    }
    expect(IMAGE_PINS.pulumi.tag).toMatch(/^pulumi\/pulumi-nodejs:/)
  })

  it('runs Pulumi and reads stack outputs in every function inside the Pulumi image, never from .pipeline', () => {
    const index = readFileSync(join(REPO, 'ci/dagger/src/index.ts'), 'utf8')
    const body = (name: string) => {
      const start = index.indexOf(`  async ${name}(`)
      expect(start, name).toBeGreaterThan(0)
      return index.slice(start, index.indexOf('\n  }\n', start))
    }
    for (const name of ['preview', 'provision']) {
      expect(body(name), name).toContain('toolbox(this.source, { image: IMAGES.pulumi })')
    }
    for (const [name, command] of [
      ['promote', 'promote'],
      ['rollback', 'rollback'],
      ['migrate', 'migrate'],
      ['deploy', 'deploy'],
    ] as const) {
      expect(body(name), name).toContain(`pipelineContainerPlan('${command}'`)
      expect(pipelineContainerPlan(command).image, name).toBe('pulumi')
    }
    // The module's source leaves .pipeline out: the AWS verbs' outputs cache there is never what they read.
    expect(SOURCE_IGNORE).toContain('**/.pipeline')
    // The Pulumi CLI of the image is the release of the SDK infra/ locks (one engine/SDK line).
    const sdk = JSON.parse(readFileSync(join(REPO, 'node_modules/@pulumi/pulumi/package.json'), 'utf8'))
    expect(IMAGE_PINS.pulumi.tag).toBe(`pulumi/pulumi-nodejs:${sdk.version}`)
  })

  it('carries k6 from the official image wherever the load stage runs', () => {
    expect(pipelineContainerPlan('deploy').k6).toBe(true)
    expect(pipelineContainerPlan('promote').k6).toBe(true)
    expect(pipelineContainerPlan('deploy', { skipLoad: true }).k6).toBe(false)
    expect(pipelineContainerPlan('rollback').k6).toBe(false)
    expect(pipelineContainerPlan('migrate').k6).toBe(false)
    expect(K6_BINARY.path.startsWith('/usr/local/bin/')).toBe(true)
  })

  it('points the CLI at a given stack outputs file, and only then', () => {
    expect(pipelineContainerPlan('rollback', { stackOutputs: true }).env).toEqual({
      AWS_STACK_OUTPUTS_FILE: STACK_OUTPUTS_PATH,
    })
    expect(pipelineContainerPlan('rollback').env).toEqual({})
    // The variable the CLI's AWS verbs read (ci/src/aws/verbs.ts).
    expect(readFileSync(join(REPO, 'ci/src/aws/verbs.ts'), 'utf8')).toContain(
      'process.env.AWS_STACK_OUTPUTS_FILE',
    )
  })

  it('is what every function running the pipeline CLI builds', () => {
    const index = readFileSync(join(REPO, 'ci/dagger/src/index.ts'), 'utf8')
    const runs = [...index.matchAll(/runPipelineCli\(\s*(\w+)\(this\.source, access,/g)].map(
      (match) => match[1],
    )
    expect(index.match(/runPipelineCli\(/g)).toHaveLength(4)
    expect(runs).toEqual(Array(4).fill('pipelineContainer'))
  })

  it('runs the local target through the CLI in its one container, everywhere the module deploys locally', () => {
    const index = readFileSync(join(REPO, 'ci/dagger/src/index.ts'), 'utf8')
    // deploy --env=local and endToEnd share one path; drill and up build the same container.
    expect(index.match(/runLocalPipeline\(/g)).toHaveLength(1)
    expect(index).toMatch(/runLocalPipeline\(container, localDeployCommand\(options\)/)
    expect(index).toMatch(/return this\.localPipeline\(\{ skipLoad \}, allowFailure\)/)
    expect(index).toMatch(/parseEnvironment\(env\) === 'local'\)\s+return this\.localPipeline\(/)
    const containers = readFileSync(join(REPO, 'ci/dagger/src/lib/containers.ts'), 'utf8')
    for (const builder of ['localTargetService', 'runDrill'])
      expect(containers, builder).toMatch(
        new RegExp(
          `function ${builder}\\([^)]*\\)[^{]*\\{\\s*(return |const \\w+ = )localTargetContainer\\(`,
        ),
      )
  })
})

describe('pipeline CLI command lines', () => {
  const cli = ['npx', '--no-install', 'tsx', 'ci/src/cli/main.ts']

  it('deploys an environment, optionally a given digest, with the pipeline flags', () => {
    expect(deployCommand({ env: 'staging', image: `${ECR}@${DIGEST}` })).toEqual([
      ...cli,
      'deploy',
      '--target',
      'aws',
      '--stack',
      'staging',
      '--image',
      `${ECR}@${DIGEST}`,
    ])
    expect(deployCommand({ env: 'local', dryRun: true, allowDestructive: true, skipLoad: true })).toEqual([
      ...cli,
      'deploy',
      '--target',
      'local',
      '--stack',
      'local',
      '--dry-run',
      '--allow-destructive',
      '--skip-load',
    ])
  })

  it('refuses to deploy, migrate or roll back to a tag', () => {
    expect(() => deployCommand({ env: 'production', image: `${ECR}:latest` })).toThrow(/no digest/)
    expect(() => migrateCommand('staging', `${ECR}:v1`)).toThrow(/no digest/)
    expect(() => rollbackCommand('staging', `${ECR}:v1`)).toThrow(/no digest/)
  })

  it('rolls back, backs up and migrates through the target', () => {
    expect(rollbackCommand('production')).toEqual([
      ...cli,
      'rollback',
      '--target',
      'aws',
      '--stack',
      'production',
    ])
    expect(rollbackCommand('staging', `${ECR}@${DIGEST}`).slice(-2)).toEqual(['--to', `${ECR}@${DIGEST}`])
    expect(backupCommand('staging')).toEqual([...cli, 'backup', '--target', 'aws', '--stack', 'staging'])
    expect(migrateCommand('staging', `${ECR}@${DIGEST}`, true).slice(4)).toEqual([
      'migrate',
      '--target',
      'aws',
      '--stack',
      'staging',
      '--image',
      `${ECR}@${DIGEST}`,
      '--allow-destructive',
    ])
  })

  it('records the exit code next to the reports and exits with it, arguments intact', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recording-'))
    try {
      const printArgs = ['node', '-e', 'console.log(JSON.stringify(process.argv.slice(1))); process.exit(3)']
      const argv = recordingExitCode([...printArgs, "it's", '$HOME', 'a b'])
      const run = spawnSync(argv[0]!, argv.slice(1), { cwd: dir, encoding: 'utf8' })
      expect(run.status).toBe(3)
      expect(JSON.parse(run.stdout)).toEqual(["it's", '$HOME', 'a b'])
      expect(readFileSync(join(dir, '.pipeline/reports/exit-code'), 'utf8').trim()).toBe('3')
      const ok = recordingExitCode(['true'])
      expect(spawnSync(ok[0]!, ok.slice(1), { cwd: dir }).status).toBe(0)
      expect(readFileSync(join(dir, '.pipeline/reports/exit-code'), 'utf8').trim()).toBe('0')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('k6', () => {
  it('runs one of the repository scripts with a summary export and no inputs on the command line', () => {
    expect(k6Command('webhook-ingest')).toEqual([
      'k6',
      'run',
      '--no-color',
      '--no-usage-report',
      '--summary-export',
      '/out/summary.json',
      'webhook-ingest.ts',
    ])
    expect(() => k6Command('../etc/passwd')).toThrow(/unknown k6 script/)
    expect(k6DurationEnv(30)).toEqual({ SCENARIO_DURATION_S: '30' })
    expect(() => k6DurationEnv(0)).toThrow(/positive integer/)
  })

  it('knows exactly the scripts in loadtests/k6', () => {
    for (const script of K6_SCRIPTS) {
      expect(statSync(join(REPO, 'loadtests/k6', `${script}.ts`)).isFile(), script).toBe(true)
    }
  })

  it("lets k6's exit code decide: 0 passes, 99 is a threshold breach, anything else a broken run", () => {
    expect(k6Verdict(0)).toMatchObject({ passed: true })
    expect(k6Verdict(99)).toMatchObject({
      passed: false,
      reason: expect.stringContaining('thresholds breached'),
    })
    expect(k6Verdict(107)).toMatchObject({ passed: false, reason: expect.stringContaining('failed to run') })
  })
})

describe('smoke and Pulumi command lines', () => {
  it('runs the smoke suite with the URL and version as flags and secrets only as SMOKE_* env', () => {
    expect(smokeCommand({ baseUrl: 'https://api.example.com', expectVersion: 'abc' })).toEqual([
      'npm',
      'run',
      '--silent',
      'smoke',
      '-w',
      'smoke',
      '--',
      '--base-url',
      'https://api.example.com',
      '--expect-version',
      'abc',
      '--json',
    ])
    expect(() => smokeCommand({ baseUrl: 'not a url' })).toThrow()
    expect(() => smokeCommand({ baseUrl: 'ftp://x' })).toThrow(/http/)
    expect(smokeSecretVariables({ apiKey: 'k', verifyToken: 'v', adminToken: null })).toEqual([
      { name: 'SMOKE_API_KEY', secret: 'k' },
      { name: 'SMOKE_VERIFY_TOKEN', secret: 'v' },
    ])
  })

  it('previews and provisions a stack of infra/ non-interactively', () => {
    expect(previewCommand('staging')).toEqual([
      'pulumi',
      'preview',
      '--stack',
      'staging',
      '--diff',
      '--cwd',
      'infra',
      '--non-interactive',
      '--color',
      'never',
    ])
    const provision = provisionCommand('production')
    expect(provision[2]).toContain('pulumi up --stack production --yes')
    expect(provision[2]).toContain('&& pulumi stack output --stack production --json')
    expect(provision[2]).not.toContain('--show-secrets')
  })
})

describe('image build inputs', () => {
  it('copies every workspace manifest before `npm ci` (a missing one fails the install)', () => {
    const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { workspaces: string[] }
    const matches = (path: string, pattern: string) =>
      new RegExp(`^${pattern.replaceAll('.', '\\.').replaceAll('*', '[^/]+')}$`).test(path)
    for (const workspace of root.workspaces) {
      const manifest = `${workspace}/package.json`
      expect(
        INSTALL_MANIFESTS.some((pattern) => matches(manifest, pattern)),
        manifest,
      ).toBe(true)
    }
    expect(root.workspaces).toContain('ci/dagger')
  })

  it('ignores for Dagger exactly what api/.dockerignore keeps out of the Docker build context', () => {
    const dockerignore = readFileSync(join(REPO, 'api/.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .filter(Boolean)
    expect([...SOURCE_IGNORE].sort()).toEqual([...dockerignore].sort())
  })

  it('builds the service from the same Node base the Dockerfile defaults to', () => {
    const dockerfile = readFileSync(join(REPO, 'api/Dockerfile'), 'utf8')
    expect(dockerfile).toContain(`ARG NODE_IMAGE=${IMAGE_PINS.nodeSlim.tag}`)
    const index = readFileSync(join(REPO, 'ci/dagger/src/index.ts'), 'utf8')
    expect(index).toContain('nodeImage ?? IMAGES.nodeSlim')
  })

  it('keeps the image on production dependencies, a non-root user, a health check and the server command', () => {
    const dockerfile = readFileSync(join(REPO, 'api/Dockerfile'), 'utf8')
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'))
    expect(dockerfile).toMatch(/npm ci -w api --omit=dev/)
    expect(runtime).toMatch(/COPY --from=deps [^\n]*\/app\/node_modules/)
    expect(runtime).not.toMatch(/COPY --from=build [^\n]*node_modules/)
    expect(runtime).toMatch(/^USER app$/m)
    expect(runtime).toMatch(/postgresql-client-15/)
    expect(runtime).toMatch(/^HEALTHCHECK .*\n.*\/health/m)
    expect(runtime).toMatch(/^CMD \["node", "dist\/server.js"\]$/m)
    expect(runtime).toMatch(/prisma\/migrations|\/app\/api\/prisma /)
    expect(runtime).toMatch(/ARG APP_VERSION/)
    expect(runtime).toMatch(/rm -rf \/usr\/local\/lib\/node_modules\/npm/)
  })
})
