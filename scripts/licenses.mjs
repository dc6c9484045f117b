// Writes dist/licenses.txt: the licence notice of every package the bundles may contain (every
// non-dev package in package-lock.json), sorted by name so that the file is the same on every build.
// ncc's own --license output changed order between builds and failed the dist check at random.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'))
const notices = []
for (const [path, meta] of Object.entries(lock.packages)) {
  if (!path || meta.dev || meta.devOptional) continue
  const dir = path
  const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
  if (!existsSync(dir)) throw new Error(`${dir} is missing: run npm ci first`)
  const files = readdirSync(dir)
    .filter(f => /^(licen[cs]e|copying|notice)/i.test(f))
    .sort()
  const text = files.map(f => readFileSync(join(dir, f), 'utf8').trim()).join('\n\n')
  notices.push({ key: `${name}@${meta.version}`, license: meta.license ?? 'see package', text })
}
notices.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
const seen = new Set()
const body = notices
  .filter(n => !seen.has(n.key) && seen.add(n.key))
  .map(n => `${n.key}\n${n.license}\n${n.text || '(the package ships no licence file; its package.json names the licence above)'}`)
  .join('\n\n' + '-'.repeat(72) + '\n\n')
writeFileSync('dist/licenses.txt', `Third-party software bundled in dist/, with the notices of its licences.\n\n${body}\n`)
console.log(`dist/licenses.txt: ${seen.size} packages`)
