import { AjvCompiler } from '@fastify/ajv-compiler'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

// Fastify compiles every route's validators (ajv) and response serializers (fast-json-stringify) while
// it starts: measured as ~15 % of the API's start-up CPU, for some fifty routes of which a process may
// serve a handful. These factories hand Fastify its own default compilers, wrapped so that a route's
// schema is compiled on the route's first request instead; the compiled function is then reused, so
// only that first request pays. A schema error surfaces on the route's first use (the route tests).

type Compiled = ((...args: unknown[]) => unknown) & { errors?: unknown }

function compiledOnFirstUse(compile: () => Compiled): Compiled {
  let compiled: Compiled | undefined
  const run: Compiled = function (this: unknown, ...args: unknown[]) {
    compiled ??= compile()
    const result = compiled.apply(this, args)
    // Fastify reads a validator's errors from the function it was given, after the call.
    run.errors = compiled.errors
    return result
  }
  return run
}

type CompilerFactory = (...factoryArgs: never[]) => (routeSchema: never) => unknown

function deferred<F extends CompilerFactory>(factory: F): F {
  return ((...factoryArgs: Parameters<F>) => {
    const compiler = factory(...factoryArgs) as unknown as (routeSchema: unknown) => Compiled
    return (routeSchema: unknown) => compiledOnFirstUse(() => compiler(routeSchema))
  }) as unknown as F
}

/** `schemaController.compilersFactory` of Fastify's options: its default compilers, compiled lazily. */
export const lazySchemaCompilers = {
  buildValidator: deferred(AjvCompiler()),
  buildSerializer: deferred(SerializerSelector()),
}
