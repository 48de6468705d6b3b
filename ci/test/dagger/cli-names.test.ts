import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { kebabCase, readModuleFunctions } from './module-functions.js'

const INDEX = join(resolve(import.meta.dirname, '../../..'), 'ci/dagger/src/index.ts')

describe('the Dagger CLI name conversion (strcase.ToKebab)', () => {
  it('gives the results of strcase v0.3.0 own test table', () => {
    // snake_test.go of iancoleman/strcase v0.3.0, with `-` for `_`.
    const cases: [string, string][] = [
      ['testCase', 'test-case'],
      ['TestCase', 'test-case'],
      ['Test Case', 'test-case'],
      [' Test Case ', 'test-case'],
      ['test', 'test'],
      ['test_case', 'test-case'],
      ['ManyManyWords', 'many-many-words'],
      ['AnyKind of_string', 'any-kind-of-string'],
      ['numbers2and55with000', 'numbers-2-and-55-with-000'],
      ['JSONData', 'json-data'],
      ['userID', 'user-id'],
      ['AAAbbb', 'aa-abbb'],
      ['1A2', '1-a-2'],
      ['A1B', 'a-1-b'],
      ['A1A2A3', 'a-1-a-2-a-3'],
      ['AB1AB2AB3', 'ab-1-ab-2-ab-3'],
    ]
    for (const [input, expected] of cases) expect(kebabCase(input), input).toBe(expected)
  })

  it('splits at digits, so a function named e2e is called `e-2-e`', () => {
    expect(kebabCase('e2e')).toBe('e-2-e')
    expect(kebabCase('endToEnd')).toBe('end-to-end')
    expect(kebabCase('awsSessionToken')).toBe('aws-session-token')
  })
})

describe('module function and argument names', () => {
  const functions = readModuleFunctions(INDEX)
  const names = functions.flatMap((fn) => [
    fn.name,
    ...fn.arguments.map((argument) => `${fn.name}.${argument.name}`),
  ])

  it('carry no digit (the CLI would split the word at it)', () => {
    expect(names.length).toBeGreaterThan(50)
    expect(names.filter((name) => /\d/.test(name))).toEqual([])
  })

  it('are plain lower camel case, so the CLI name is the words joined by dashes', () => {
    for (const fn of functions) {
      for (const name of [fn.name, ...fn.arguments.map((argument) => argument.name)]) {
        expect(name).toMatch(/^[a-z]+([A-Z][a-z]+)*$/)
        expect(kebabCase(name)).toBe(name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`))
      }
    }
  })
})
