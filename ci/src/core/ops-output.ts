import { type Static, type TObject, type TProperties, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type {
  OpsFailureLine as ApiFailureLine,
  OpsCommandName,
  OpsReports,
  OpsSuccessLine,
} from '@whatsapp-saas/api/ops-reports'
import type { OpsResult } from './types.js'

// The one reader of the ops commands' final JSON lines (api/src/ops, `runOpsCli`). Strict: a key the
// command never prints, a missing key or a wrong type is refused, so a change of the ops output fails here
// (and in the typecheck below) instead of being half-read. The schemas are checked at compile time to be
// exactly the types the ops commands print (api/src/ops/reports.ts).

const strict = <P extends TProperties>(properties: P): TObject<P> =>
  Type.Object(properties, { additionalProperties: false })
const Names = Type.Array(Type.String())

const REPORTS = {
  backup: {
    backupId: Type.String({ minLength: 1 }),
    store: Type.String(),
    sizeBytes: Type.Number(),
    sha256: Type.String(),
    tables: Type.Number(),
    rows: Type.Number(),
    durationMs: Type.Number(),
    createdAt: Type.String(),
    verified: Type.Optional(Type.Literal(true)),
    verifiedAt: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    tablesCompared: Type.Optional(Type.Number()),
  },
  'verify-backup': {
    backupId: Type.String({ minLength: 1 }),
    verifiedAt: Type.Union([Type.String(), Type.Null()]),
    checksumOk: Type.Literal(true),
    tablesCompared: Type.Optional(Type.Number()),
    durationMs: Type.Optional(Type.Number()),
  },
  restore: {
    backupId: Type.String({ minLength: 1 }),
    database: Type.String(),
    replacedRelations: Type.Number(),
    rows: Type.Number(),
  },
  migrate: {
    backupId: Type.String({ minLength: 1 }),
    applied: Names,
    restoreCommand: Type.String(),
  },
  'migration-status': {
    applied: Names,
    pending: Type.Array(
      strict({
        migration: Type.String(),
        verdict: Type.Union([Type.Literal('safe'), Type.Literal('destructive')]),
        findings: Type.Array(
          strict({
            migration: Type.String(),
            rule: Type.Union(
              (
                [
                  'drop-table',
                  'drop-column',
                  'column-type-change',
                  'not-null-without-default',
                  'non-concurrent-index',
                  'rename-table',
                  'rename-column',
                  'truncate',
                  'delete-without-where',
                  'unparseable',
                ] as const
              ).map((rule) => Type.Literal(rule)),
            ),
            statement: Type.String(),
            message: Type.String(),
          }),
        ),
      }),
    ),
    failed: Names,
    unknown: Names,
    destructive: Type.Boolean(),
  },
  seed: {
    organizationId: Type.String(),
    apiKey: Type.String(),
    apiKeyId: Type.String(),
    phoneNumberId: Type.String(),
    graphPhoneNumberId: Type.String(),
  },
} satisfies Record<OpsCommandName, TProperties>

const ok = <C extends OpsCommandName>(command: C) => ({
  command: Type.Literal(command),
  ok: Type.Literal(true),
})

export const OpsFailureLineSchema = strict({
  command: Type.Union([Type.String(), Type.Null()]),
  ok: Type.Literal(false),
  error: Type.String(),
  backupId: Type.Optional(Type.String()),
  verified: Type.Optional(Type.Literal(false)),
  checksumOk: Type.Optional(Type.Literal(false)),
  differences: Type.Optional(
    Type.Array(
      strict({
        table: Type.String(),
        expected: Type.Union([Type.Number(), Type.Null()]),
        actual: Type.Union([Type.Number(), Type.Null()]),
      }),
    ),
  ),
  relations: Type.Optional(Type.Number()),
  restoreCommand: Type.Optional(Type.String()),
  notApplied: Type.Optional(Names),
  failed: Type.Optional(Names),
  destructive: Type.Optional(Names),
})

export const OPS_LINE_SCHEMAS = {
  backup: strict({ ...ok('backup'), ...REPORTS.backup }),
  'verify-backup': strict({ ...ok('verify-backup'), ...REPORTS['verify-backup'] }),
  restore: strict({ ...ok('restore'), ...REPORTS.restore }),
  migrate: strict({ ...ok('migrate'), ...REPORTS.migrate }),
  'migration-status': strict({ ...ok('migration-status'), ...REPORTS['migration-status'] }),
  seed: strict({ ...ok('seed'), ...REPORTS.seed }),
}

// Compile-time proof that each schema is exactly what the ops command prints: a key added, removed or
// retyped on either side fails the typecheck of this workspace.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
type Flat<T> = { [K in keyof T]: T[K] }
type Proven<C extends OpsCommandName> = Same<
  Flat<Static<(typeof OPS_LINE_SCHEMAS)[C]>>,
  Flat<OpsSuccessLine<C>>
>
const proofs: { [C in OpsCommandName]: Proven<C> } & {
  failure: Same<Flat<Static<typeof OpsFailureLineSchema>>, Flat<ApiFailureLine>>
} = {
  backup: true,
  'verify-backup': true,
  restore: true,
  migrate: true,
  'migration-status': true,
  seed: true,
  failure: true,
}
void proofs

export type OpsLine<C extends OpsCommandName> = OpsSuccessLine<C>
export type OpsFailureLine = ApiFailureLine
export type { OpsReports }

/** Thrown when an ops command's final line is not what that command prints. */
export class OpsOutputError extends Error {
  override readonly name = 'OpsOutputError'
}

function problems(schema: Parameters<typeof Value.Errors>[0], value: unknown): string {
  return [...Value.Errors(schema, value)]
    .slice(0, 3)
    .map((error) => `${error.path || '/'} ${error.message}`)
    .join('; ')
}

/**
 * Reads the final JSON line of `command`: its report when it succeeded, its failure (with the refusal's
 * details) when it failed. Anything else (an unknown key, a missing one, another command's line) throws.
 */
export function parseOpsLine<C extends OpsCommandName>(
  command: C,
  value: unknown,
): OpsLine<C> | OpsFailureLine {
  const succeeded = (value as { ok?: unknown } | null)?.ok
  const schema = succeeded === false ? OpsFailureLineSchema : OPS_LINE_SCHEMAS[command]
  if (!Value.Check(schema, value))
    throw new OpsOutputError(`${command} printed an unexpected final line: ${problems(schema, value)}`)
  const line = value as OpsLine<C> | OpsFailureLine
  if (line.ok === false && line.command !== command)
    throw new OpsOutputError(`${command} printed the failure of ${line.command ?? 'no command'}`)
  return line
}

/** A command's outcome: its report when it succeeded, else one line saying why not. */
export type OpsOutcome<C extends OpsCommandName> =
  | { ok: true; report: OpsLine<C> }
  | { ok: false; error: string; failure?: OpsFailureLine }

/**
 * Reads an ops run: exit 0 with the command's report, or the reason it failed (its own `error` when it
 * printed one, else its exit code and last output line). A line that breaks the contract throws.
 */
export function opsOutcome<C extends OpsCommandName>(command: C, run: OpsResult): OpsOutcome<C> {
  if (run.result === undefined) {
    return {
      ok: false,
      error: `${command} failed (exit ${run.exitCode}) without a result line: ${run.output.at(-1) ?? 'no output'}`,
    }
  }
  const line = parseOpsLine(command, run.result)
  if (line.ok === false) return { ok: false, error: `${command} failed: ${line.error}`, failure: line }
  if (run.exitCode !== 0)
    return { ok: false, error: `${command} exited ${run.exitCode} after reporting success` }
  return { ok: true, report: line }
}
