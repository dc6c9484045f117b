// Regenerates the inputs and outputs tables in README.md from action.yml, so the
// docs cannot drift from the interface. `--check` exits 1 when README.md is stale.
import { readFileSync, writeFileSync } from 'node:fs'
import { parse } from 'yaml'

const action = parse(readFileSync('action.yml', 'utf8'))
const cell = text =>
  String(text ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ')
const inputs = Object.entries(action.inputs)
  .map(([name, spec]) => `| \`${name}\` | ${cell(spec.description)} | ${spec.default ? `\`${cell(spec.default)}\`` : ''} |`)
  .join('\n')
const outputs = Object.entries(action.outputs)
  .map(([name, spec]) => `| \`${name}\` | ${cell(spec.description)} |`)
  .join('\n')

const blocks = {
  inputs: `| Input | Description | Default |\n|---|---|---|\n${inputs}`,
  outputs: `| Output | Description |\n|---|---|\n${outputs}`
}

const readme = readFileSync('README.md', 'utf8')
let updated = readme
for (const [name, body] of Object.entries(blocks)) {
  const pattern = new RegExp(`(<!-- ${name}:start -->)[\\s\\S]*?(<!-- ${name}:end -->)`)
  if (!pattern.test(updated)) throw new Error(`README.md has no <!-- ${name}:start --> … <!-- ${name}:end --> block`)
  updated = updated.replace(pattern, `$1\n${body}\n$2`)
}
if (process.argv.includes('--check')) {
  if (updated !== readme) {
    console.error('README.md tables are stale: run `node scripts/readme-tables.mjs`')
    process.exit(1)
  }
} else writeFileSync('README.md', updated)
