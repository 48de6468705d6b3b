import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { detectContainerCli } from '../../src/aws/container-cli.js'
import { ToolMissingError } from '../../src/aws/errors.js'
import { assertPulumiCli, plainOutputs } from '../../src/aws/provisioner.js'

describe('absent tools fail loudly with one line naming what to install', () => {
  let emptyPath: string
  beforeAll(async () => {
    emptyPath = await mkdtemp(join(tmpdir(), 'no-tools-'))
    vi.stubEnv('PATH', emptyPath)
  })
  afterAll(async () => {
    vi.unstubAllEnvs()
    await rm(emptyPath, { recursive: true, force: true })
  })

  it('Pulumi CLI', async () => {
    const error = await assertPulumiCli().catch((caught: Error) => caught)
    expect(error).toBeInstanceOf(ToolMissingError)
    expect((error as Error).message).toMatch(
      /^Pulumi CLI not found on PATH: install it \(`curl -fsSL https:\/\/get.pulumi.com \| sh`/,
    )
    expect((error as Error).message.split('\n')).toHaveLength(1)
  })

  it('container CLI', async () => {
    await expect(detectContainerCli()).rejects.toThrow(
      'no container CLI found: install docker (apt-get install docker.io) or podman to push the image to ECR',
    )
  })
})

describe('Pulumi outputs', () => {
  it('keeps plain outputs as strings and never passes secret ones on', () => {
    expect(
      plainOutputs({
        clusterName: { value: 'c', secret: false },
        privateSubnetIds: { value: ['subnet-1', 'subnet-2'], secret: false },
        databasePassword: { value: 'hunter2', secret: true },
        desired: { value: 2, secret: false },
      }),
    ).toEqual({ clusterName: 'c', privateSubnetIds: 'subnet-1,subnet-2', desired: '2' })
  })
})
