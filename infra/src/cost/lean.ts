// The lean alternative: what the same architecture costs with the cheapest settings that still keep a
// Multi-AZ database, two cache nodes and two API tasks. Each change comes with the trade-off it buys.
import type { StackConfig } from '../config.js'

export const LEAN_TARGET_USD = 130

export interface LeanAlternative {
  config: StackConfig
  tradeOffs: string[]
}

export function leanAlternative(config: StackConfig): LeanAlternative {
  const lean: StackConfig = {
    ...config,
    network: { ...config.network, egressMode: 'public-task-ips' },
    database: { ...config.database, instanceClass: 'db.t4g.micro', multiAz: true },
    cache: {
      ...config.cache,
      engine: 'valkey',
      engineVersion: '8.0',
      nodeType: 'cache.t4g.micro',
      nodeCount: 2,
    },
    service: {
      ...config.service,
      architecture: 'ARM64',
      cpu: 256,
      memoryMiB: 512,
      desiredCount: 2,
      minCount: 2,
    },
    worker: { ...config.worker, cpu: 256, memoryMiB: 512, desiredCount: 1 },
  }
  const tradeOffs: string[] = []
  const changed = (before: unknown, after: unknown) => before !== after

  if (changed(config.database.instanceClass, lean.database.instanceClass)) {
    tradeOffs.push(
      `database ${config.database.instanceClass} → db.t4g.micro (Multi-AZ kept): 1 GiB RAM instead of 2, so a smaller cache of hot rows; burstable CPU whose credits can run out under sustained load; Graviton needs nothing from the app`,
    )
  }
  if (!config.database.multiAz) tradeOffs.push('database Single-AZ → Multi-AZ: lean still keeps a standby')
  if (changed(config.cache.engine, 'valkey') || changed(config.cache.nodeType, lean.cache.nodeType)) {
    tradeOffs.push(
      `cache ${config.cache.engine} ${config.cache.nodeType} → valkey cache.t4g.micro (2 nodes kept): Valkey 8 speaks the Redis 7.2 protocol (BullMQ and ioredis work unchanged) and lists 20 % cheaper; switching engines replaces the cluster, queued jobs must be drained first`,
    )
  }
  if (changed(config.service.architecture, 'ARM64')) {
    tradeOffs.push(
      'Fargate X86_64 → ARM64: ~20 % cheaper per vCPU and GB; the image must be built for linux/arm64 (native modules included)',
    )
  }
  if (changed(config.network.egressMode, 'public-task-ips')) {
    tradeOffs.push(
      `egress ${config.network.egressMode} → public-task-ips: tasks run in the public subnets with a public IPv4 each ($3.65/month per task) instead of paying for NAT or endpoints; inbound is still only from the ALB security group, but the tasks are one misconfigured rule away from the internet and their outbound IP changes with every task`,
    )
  }
  if (config.worker.desiredCount > 1) {
    tradeOffs.push(
      `worker tasks ${config.worker.desiredCount} → 1: queue processing pauses while that task is replaced or its AZ fails (jobs wait in Redis, none are lost)`,
    )
  }
  if (config.service.cpu !== 256 || config.service.memoryMiB !== 512) {
    tradeOffs.push(`API task size ${config.service.cpu} CPU / ${config.service.memoryMiB} MiB → 256 / 512`)
  }
  return { config: lean, tradeOffs }
}
