import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { API_ROOT } from '../../src/ops/prisma-migrations.js'

/**
 * The api's real prisma.config.ts and schema next to a migrations directory the test writes.
 * It lives under api/node_modules/.cache so that the config's own imports (@prisma/adapter-pg,
 * pg, prisma/config) resolve exactly as they do for the api, and git never sees it.
 */
export interface MigrationWorkspace {
  configPath: string
  migrationsDir: string
  addMigration(name: string, sql: string): void
  remove(): void
}

export function createMigrationWorkspace(): MigrationWorkspace {
  const root = join(API_ROOT, 'node_modules', '.cache', `ops-migrations-${randomBytes(4).toString('hex')}`)
  const migrationsDir = join(root, 'prisma', 'migrations')
  mkdirSync(migrationsDir, { recursive: true })
  copyFileSync(join(API_ROOT, 'prisma.config.ts'), join(root, 'prisma.config.ts'))
  copyFileSync(join(API_ROOT, 'prisma', 'schema.prisma'), join(root, 'prisma', 'schema.prisma'))
  // The config reads its TLS settings through the service's own src/db/tls.ts, found next to it.
  symlinkSync(join(API_ROOT, 'src'), join(root, 'src'), 'dir')
  writeFileSync(join(migrationsDir, 'migration_lock.toml'), 'provider = "postgresql"\n')
  return {
    configPath: join(root, 'prisma.config.ts'),
    migrationsDir,
    addMigration(name, sql) {
      mkdirSync(join(migrationsDir, name), { recursive: true })
      writeFileSync(join(migrationsDir, name, 'migration.sql'), sql)
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  }
}
