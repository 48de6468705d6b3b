import type {
  AlterTableCmd,
  AlterTableStmt,
  ColumnDef,
  Constraint,
  CreateStmt,
  DeleteStmt,
  DropStmt,
  IndexStmt,
  Node,
  ParseResult,
  RangeVar,
  RenameStmt,
  TruncateStmt,
} from 'libpg-query'
import { parse } from 'libpg-query'

// Judges pending migrations before they run. The SQL is parsed by PostgreSQL's own parser
// (libpg-query, compiled to wasm) rather than matched with regular expressions, so comments,
// quoting, multi-command ALTER TABLEs and dollar-quoted bodies are read as the server reads them.

export type SafetyRule =
  | 'drop-table'
  | 'drop-column'
  | 'column-type-change'
  | 'not-null-without-default'
  | 'non-concurrent-index'
  | 'rename-table'
  | 'rename-column'
  | 'truncate'
  | 'delete-without-where'
  | 'unparseable'

export interface SafetyFinding {
  migration: string
  rule: SafetyRule
  /** The offending statement, as written in the migration. */
  statement: string
  message: string
}

export interface MigrationVerdict {
  migration: string
  verdict: 'safe' | 'destructive'
  findings: SafetyFinding[]
}

export interface MigrationSource {
  name: string
  sql: string
}

const relationName = (rv: RangeVar | undefined): string =>
  rv?.schemaname ? `${rv.schemaname}.${rv.relname}` : (rv?.relname ?? '?')

function dropObjectName(object: Node): string {
  const items = 'List' in object ? (object.List.items ?? []) : [object]
  return items.map((i) => ('String' in i ? i.String.sval : '?')).join('.')
}

// Types whose columns fill themselves (sequence defaults), so NOT NULL needs no explicit default.
const SELF_FILLING_TYPES = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial'])

function constraintsOf(def: ColumnDef): Constraint[] {
  return (def.constraints ?? []).flatMap((c) => ('Constraint' in c ? [c.Constraint] : []))
}

function addsNotNullWithoutDefault(def: ColumnDef): boolean {
  const constraints = constraintsOf(def)
  const notNull =
    def.is_not_null === true ||
    constraints.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY')
  if (!notNull) return false
  const fills =
    def.raw_default !== undefined ||
    def.identity !== undefined ||
    constraints.some(
      (c) =>
        c.contype === 'CONSTR_DEFAULT' || c.contype === 'CONSTR_IDENTITY' || c.contype === 'CONSTR_GENERATED',
    )
  const typeName = (def.typeName?.names ?? []).map((n) => ('String' in n ? n.String.sval : '')).at(-1) ?? ''
  return !fills && !SELF_FILLING_TYPES.has(typeName.toLowerCase())
}

/** Statement text from the parser's byte offsets (offsets count UTF-8 bytes, not UTF-16 units). */
function statementText(sqlBytes: Buffer, location = 0, length = 0): string {
  const end = length > 0 ? location + length : sqlBytes.length
  return sqlBytes
    .subarray(location, end)
    .toString('utf8')
    .replace(/^(\s*--[^\n]*\n)+/, '')
    .trim()
    .replace(/;$/, '')
}

/** Findings of one migration file (empty when it is safe). */
export async function analyzeMigration(migration: MigrationSource): Promise<MigrationVerdict> {
  const findings: SafetyFinding[] = []
  let parsed: ParseResult
  try {
    parsed = (await parse(migration.sql)) as ParseResult
  } catch (error) {
    findings.push({
      migration: migration.name,
      rule: 'unparseable',
      statement: migration.sql.trim().slice(0, 200),
      message: `the SQL could not be parsed, so its safety is unknown: ${(error as Error).message}`,
    })
    return { migration: migration.name, verdict: 'destructive', findings }
  }

  const sqlBytes = Buffer.from(migration.sql, 'utf8')
  // Tables created by this same migration are empty: changing them cannot lose data or block traffic.
  const createdHere = new Set<string>()

  for (const raw of parsed.stmts ?? []) {
    const node = raw.stmt
    if (!node) continue
    const statement = statementText(sqlBytes, raw.stmt_location, raw.stmt_len)
    const report = (rule: SafetyRule, message: string) =>
      findings.push({ migration: migration.name, rule, statement, message })

    if ('CreateStmt' in node) {
      createdHere.add(relationName((node.CreateStmt as CreateStmt).relation))
    } else if ('DropStmt' in node) {
      const drop = node.DropStmt as DropStmt
      if (drop.removeType === 'OBJECT_TABLE') {
        const tables = (drop.objects ?? []).map(dropObjectName).filter((t) => !createdHere.has(t))
        if (tables.length > 0) report('drop-table', `drops table ${tables.join(', ')} and all its rows`)
      }
    } else if ('AlterTableStmt' in node) {
      const alter = node.AlterTableStmt as AlterTableStmt
      const table = relationName(alter.relation)
      if (alter.objtype !== 'OBJECT_TABLE' || createdHere.has(table)) continue
      for (const c of alter.cmds ?? []) {
        if (!('AlterTableCmd' in c)) continue
        const cmd = c.AlterTableCmd as AlterTableCmd
        switch (cmd.subtype) {
          case 'AT_DropColumn':
            report('drop-column', `drops column ${table}.${cmd.name} and its data`)
            break
          case 'AT_AlterColumnType':
            report(
              'column-type-change',
              `changes the type of ${table}.${cmd.name}: rewrites the table under an exclusive lock and may lose data`,
            )
            break
          case 'AT_AddColumn': {
            const def = cmd.def && 'ColumnDef' in cmd.def ? (cmd.def.ColumnDef as ColumnDef) : undefined
            if (def && addsNotNullWithoutDefault(def))
              report(
                'not-null-without-default',
                `adds NOT NULL column ${table}.${def.colname} without a default: fails on a table with rows`,
              )
            break
          }
          case 'AT_SetNotNull':
            report(
              'not-null-without-default',
              `makes existing column ${table}.${cmd.name} NOT NULL: fails if any row holds NULL and scans the table under an exclusive lock`,
            )
            break
        }
      }
    } else if ('IndexStmt' in node) {
      const index = node.IndexStmt as IndexStmt
      const table = relationName(index.relation)
      if (!index.concurrent && !createdHere.has(table))
        report(
          'non-concurrent-index',
          `creates index ${index.idxname ?? '(unnamed)'} on existing table ${table} without CONCURRENTLY: blocks writes while it builds`,
        )
    } else if ('RenameStmt' in node) {
      const rename = node.RenameStmt as RenameStmt
      const table = relationName(rename.relation)
      if (rename.renameType === 'OBJECT_TABLE' && !createdHere.has(table))
        report(
          'rename-table',
          `renames table ${table} to ${rename.newname}: running replicas still use the old name`,
        )
      else if (
        rename.renameType === 'OBJECT_COLUMN' &&
        rename.relationType === 'OBJECT_TABLE' &&
        !createdHere.has(table)
      )
        report(
          'rename-column',
          `renames column ${table}.${rename.subname} to ${rename.newname}: running replicas still use the old name`,
        )
    } else if ('TruncateStmt' in node) {
      const truncate = node.TruncateStmt as TruncateStmt
      const tables = (truncate.relations ?? []).map((r) => ('RangeVar' in r ? relationName(r.RangeVar) : '?'))
      report('truncate', `truncates ${tables.join(', ')}: deletes every row`)
    } else if ('DeleteStmt' in node) {
      const del = node.DeleteStmt as DeleteStmt
      if (!del.whereClause)
        report('delete-without-where', `deletes every row of ${relationName(del.relation)}`)
    }
  }
  return { migration: migration.name, verdict: findings.length > 0 ? 'destructive' : 'safe', findings }
}

/** Verdicts of several migrations, in the given order. */
export async function analyzeMigrations(migrations: MigrationSource[]): Promise<MigrationVerdict[]> {
  const verdicts: MigrationVerdict[] = []
  for (const m of migrations) verdicts.push(await analyzeMigration(m))
  return verdicts
}
