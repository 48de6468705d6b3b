// Reads the functions of the Dagger module (ci/dagger/src/index.ts) with the TypeScript compiler API, the way
// the Dagger CLI exposes them: `dagger call <kebab-name> --<kebab-arg>=...`. Shared by the tests that
// hold the workflows and docs to what the module really offers.
import { readFileSync } from 'node:fs'
import ts from 'typescript'

export interface ModuleArgument {
  name: string
  /** The type as written (`Directory`, `Secret`, `string`, ...), or inferred from the default. */
  type: string
  optional: boolean
}

export interface ModuleFunction {
  name: string
  arguments: ModuleArgument[]
  /** Decorators of the method (`func`, `check`, `up`). */
  decorators: string[]
  /** The return type as written, without `Promise<>`. */
  returns: string
}

function decoratorNames(node: ts.Node): string[] {
  return (ts.canHaveDecorators(node) ? (ts.getDecorators(node) ?? []) : []).map((decorator) => {
    const expression = ts.isCallExpression(decorator.expression)
      ? decorator.expression.expression
      : decorator.expression
    return expression.getText()
  })
}

function hasDefaultPath(parameter: ts.ParameterDeclaration): boolean {
  return (ts.getDecorators(parameter) ?? []).some((decorator) =>
    /\bdefaultPath\s*:/.test(decorator.getText()),
  )
}

function argumentType(parameter: ts.ParameterDeclaration): string {
  if (parameter.type) return parameter.type.getText().replace(/\s*\|\s*(undefined|null)/g, '')
  const initializer = parameter.initializer
  if (!initializer) return 'unknown'
  if (ts.isStringLiteral(initializer) || ts.isNoSubstitutionTemplateLiteral(initializer)) return 'string'
  if (ts.isNumericLiteral(initializer)) return 'number'
  if (initializer.kind === ts.SyntaxKind.TrueKeyword || initializer.kind === ts.SyntaxKind.FalseKeyword) {
    return 'boolean'
  }
  return 'unknown'
}

function readArguments(parameters: ts.NodeArray<ts.ParameterDeclaration>): ModuleArgument[] {
  return parameters.map((parameter) => ({
    name: parameter.name.getText(),
    type: argumentType(parameter),
    // A context argument (`@argument({ defaultPath })`) is loaded from the repository when omitted.
    optional: Boolean(parameter.questionToken || parameter.initializer || hasDefaultPath(parameter)),
  }))
}

/** The `@object()` class of a module entry file (the main object). */
function mainObject(path: string): ts.ClassDeclaration | undefined {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true)
  return source.statements.find(
    (statement): statement is ts.ClassDeclaration =>
      ts.isClassDeclaration(statement) && decoratorNames(statement).includes('object'),
  )
}

/** The `@func()` methods of the `@object()` class of a module entry file. */
export function readModuleFunctions(path: string): ModuleFunction[] {
  const functions: ModuleFunction[] = []
  for (const member of mainObject(path)?.members ?? []) {
    if (!ts.isMethodDeclaration(member) || !decoratorNames(member).includes('func')) continue
    functions.push({
      name: member.name.getText(),
      decorators: decoratorNames(member),
      returns: (member.type?.getText() ?? 'void').replace(/^Promise<(.*)>$/, '$1'),
      arguments: readArguments(member.parameters),
    })
  }
  return functions
}

/**
 * The constructor arguments of the main object: the module-level flags of `dagger call`, given before the
 * function name (`dagger call --source=. --aws-region=eu-west-1 deploy ...`).
 */
export function readModuleConstructor(path: string): ModuleArgument[] {
  const declaration = mainObject(path)?.members.find(ts.isConstructorDeclaration)
  return declaration ? readArguments(declaration.parameters) : []
}

/**
 * The Dagger CLI's name of a function or argument: `strcase.ToKebab` of github.com/iancoleman/strcase v0.3.0
 * (internal/cmd/dagger `cliName`, core/modtree.go `CliCase`). Ported rather than approximated because its
 * rules are not plain camel-to-kebab: a digit is a word of its own (`e2e` → `e-2-e`) and acronyms stay whole
 * (`JSONData` → `json-data`); no npm package reproduces them.
 */
export function kebabCase(name: string): string {
  const s = name.trim()
  const isCap = (c: string | undefined) => c !== undefined && c >= 'A' && c <= 'Z'
  const isLow = (c: string | undefined) => c !== undefined && c >= 'a' && c <= 'z'
  const isNum = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9'
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const original = s[i]!
    const vIsCap = isCap(original)
    const vIsLow = isLow(original)
    const v = vIsCap ? original.toLowerCase() : original
    if (i + 1 < s.length) {
      const next = s[i + 1]
      const vIsNum = isNum(v)
      if (
        (vIsCap && (isLow(next) || isNum(next))) ||
        (vIsLow && (isCap(next) || isNum(next))) ||
        (vIsNum && (isCap(next) || isLow(next)))
      ) {
        if (vIsCap && isLow(next) && i > 0 && isCap(s[i - 1])) out += '-'
        out += v
        if (vIsLow || vIsNum || isNum(next)) out += '-'
        continue
      }
    }
    out += v === ' ' || v === '_' || v === '-' || v === '.' ? '-' : v
  }
  return out
}

export interface DaggerCall {
  /** Where the call was found, for messages: `file:line`. */
  location: string
  /** The module-level (constructor) flags, between `dagger call` and the function name. */
  moduleFlags: CallFlag[]
  functionName: string
  /** Everything after the function name, split on spaces (flags, their values, chained calls). */
  tokens: string[]
}

export interface CallFlag {
  name: string
  value?: string
}

/**
 * The flags a call gives its function: `--name=value`, `--name value` (for a non-boolean argument) or a
 * bare boolean `--name`. The first other word starts a chained call (`export --path=...`), whose flags
 * are not the function's.
 */
export function callFlags(tokens: string[], fn: ModuleFunction | undefined): CallFlag[] {
  return splitCall(tokens, fn).flags
}

/** The function's flags, and the rest of the command: a chained call (`export --path=...`, `up --ports ...`). */
export function splitCall(
  tokens: string[],
  fn: ModuleFunction | undefined,
): { flags: CallFlag[]; chained: string[] } {
  const flags: CallFlag[] = []
  let index = 0
  for (; index < tokens.length; index++) {
    const token = tokens[index]!
    if (!token.startsWith('--')) break
    const [name, ...value] = token.slice(2).split('=')
    if (value.length) {
      flags.push({ name: name!, value: value.join('=') })
      continue
    }
    const argument = fn?.arguments.find((a) => kebabCase(a.name) === name)
    const next = tokens[index + 1]
    if (argument && argument.type !== 'boolean' && next !== undefined && !next.startsWith('--')) {
      flags.push({ name: name!, value: next })
      index++
    } else {
      flags.push({ name: name! })
    }
  }
  return { flags, chained: tokens.slice(index) }
}

/**
 * Every `dagger call [module flags] <function> ...` in a text (workflow YAML, Markdown, shell), with
 * backslash line continuations joined; `callFlags` tells the function's flags from a chained call's. A
 * module flag written `--name value` takes the next word when `constructorArgs` names it as non-boolean.
 */
export function findDaggerCalls(
  text: string,
  file: string,
  constructorArgs: ModuleArgument[] = [],
): DaggerCall[] {
  const calls: DaggerCall[] = []
  const lines = text.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!
    const matches = [...line.matchAll(/\bdagger\s+call\s+/g)]
    matches.forEach((match, position) => {
      // A workflow step's `name:` mentions the call it runs; the command itself is in `run:`.
      if (/\bname:\s*$/.test(line.slice(0, match.index))) return
      const isLast = position === matches.length - 1
      let command = line.slice(
        match.index + match[0].length,
        isLast ? undefined : matches[position + 1]!.index,
      )
      let next = index
      while (isLast && command.trimEnd().endsWith('\\') && next + 1 < lines.length) {
        next++
        command = `${command.trimEnd().slice(0, -1)} ${lines[next]!.trim()}`
      }
      const tokens = command
        .replace(/`.*$/, '')
        .replace(/\$\([^)]*\)/g, '$CMD') // a command substitution is one value
        .replace(/<[^>\s]*\s[^>]*>/g, '<value>') // a placeholder with spaces is one value
        .replace(/\s(\||\|\||&&|;|#|>|2>).*$/, '') // the shell command ends here
        .split(/\s+/)
        .filter(Boolean)
      const { flags: moduleFlags, chained } = splitCall(tokens, {
        name: '',
        arguments: constructorArgs,
        decorators: [],
        returns: '',
      })
      const [functionName, ...rest] = chained
      // `dagger call <function>` / `dagger call …` stand for any call in prose.
      if (!functionName || /^(-|<|\[|…|\.\.\.)/.test(functionName)) return
      calls.push({ location: `${file}:${index + 1}`, moduleFlags, functionName, tokens: rest })
    })
  }
  return calls
}

export interface DaggerCommand {
  location: string
  /** `up`, `check`, `functions`, `call`, ... */
  subcommand: string
  /** The words after the subcommand, up to the end of the command (a comment or closing backtick). */
  tokens: string[]
}

/** Every `dagger <subcommand> ...` in a text; `dagger call` ones are read in detail by findDaggerCalls. */
export function findDaggerCommands(text: string, file: string): DaggerCommand[] {
  const commands: DaggerCommand[] = []
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(/(?<![\w.-])dagger\s+([a-z][a-z-]*)\b([^`#]*)/g)) {
      if (/\bname:\s*$/.test(line.slice(0, match.index))) continue
      const tokens = match[2]!.split(/\s+/).filter(Boolean)
      commands.push({ location: `${file}:${index + 1}`, subcommand: match[1]!, tokens })
    }
  })
  return commands
}
