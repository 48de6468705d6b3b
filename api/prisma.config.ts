import 'dotenv/config'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { defineConfig } from 'prisma/config'

// The service's one reading of TLS settings (src/db/tls.ts): from its source in the repository, from
// its compiled form in the image and the local releases (which carry dist/ but no src/).
const here = dirname(fileURLToPath(import.meta.url))
const tlsModule = existsSync(join(here, 'src', 'db', 'tls.ts'))
  ? join(here, 'src', 'db', 'tls.ts')
  : join(here, 'dist', 'db', 'tls.js')
const { postgresClientConfig }: typeof import('./src/db/tls.js') = await import(pathToFileURL(tlsModule).href)

// Prisma 6.19 with the wasm schema engine ("engine: js") runs every migrate command offline:
// nothing is downloaded at run time, here or in CI. Three workarounds keep it working; they patch
// `pg` only inside the Prisma CLI process that loads this file, never the service at run time.

// biome-ignore lint/suspicious/noExplicitAny: patches pg internals that have no public type
const pgInternals = pg as any

// Workaround 1 (prisma/orm#27403): the wasm schema engine reads catalog columns of types that
// @prisma/adapter-pg 6.19 cannot map (name, "char", ...). Report them as text (OID 25).
const TEXTISH = new Set([19, 18, 22, 24, 28, 30, 194, 1033, 2205, 2206])
const addFields = pgInternals.Result.prototype.addFields
pgInternals.Result.prototype.addFields = function patchedAddFields(fields: { dataTypeID: number }[]) {
  for (const field of fields) {
    if (TEXTISH.has(field.dataTypeID)) field.dataTypeID = 25
    else if (field.dataTypeID === 1003) field.dataTypeID = 1009
  }
  return addFields.call(this, fields)
}

// Workaround 2: the shadow database of `migrate dev` is dropped while its pool is still open ->
// force the drop, and keep the terminated idle connection from crashing the CLI with a pool 'error'.
const BasePool = pgInternals.Pool
pgInternals.Pool = class extends BasePool {
  // biome-ignore lint/suspicious/noExplicitAny: forwards pg.Pool's constructor arguments unchanged
  constructor(...args: any[]) {
    super(...args)
    this.on('error', () => {})
  }
}
class ShadowSafePg extends PrismaPg {
  override async connect() {
    // biome-ignore lint/suspicious/noExplicitAny: the adapter's executeScript is not part of its public type
    const adapter: any = await super.connect()
    const executeScript = adapter.executeScript.bind(adapter)
    adapter.executeScript = (sql: string) =>
      executeScript(
        /^DROP DATABASE "prisma_migrate_shadow_db_[^"]+"$/.test(sql) ? `${sql} WITH (FORCE)` : sql,
      )
    return adapter
  }
}

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  // Workaround 3: discrete fields, not connectionString (the shadow-database code spreads
  // {...config, database}; a connectionString would win and the "shadow" would be the real database).
  // Discrete fields drop the URL's sslmode in pg, so the TLS options come from the service's own
  // reading of the URL and DATABASE_CA_FILE (src/db/tls.ts): RDS (rds.force_ssl=1) and the local
  // target refuse a connection without TLS.
  adapter: async () => new ShadowSafePg(postgresClientConfig(process.env.DATABASE_URL ?? '')),
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
})
