/** What CI holds the docs and metadata to, so that none of it is kept in step by hand. */
import { expect, test } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { COMMANDS } from '../../src/model/vocabulary.js'
import { ACTION_VERSION } from '../../src/version.js'

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')

test("the version the manifests record is package.json's", () => {
  expect(ACTION_VERSION).toBe((JSON.parse(read('package.json')) as { version: string }).version)
})

test("every command has a row in the README's Commands table, and every row is a command", () => {
  const section =
    read('README.md')
      .split(/^## Commands$/m)[1]
      ?.split(/^## /m)[0] ?? ''
  const rows = [...section.matchAll(/^\| `([a-z-]+)`/gm)].map(m => m[1]).filter(name => name !== 'command') // the header names the input
  expect([...rows].sort()).toEqual([...COMMANDS].sort())
})
