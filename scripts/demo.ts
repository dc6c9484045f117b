/**
 * `npm run demo`: a real backup end to end on a throwaway local Postgres with sample
 * data — backup (zstd, encrypted) to ./.demo/backups, verify, then a restore drill
 * into a second database — printing each step's job summary.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { execute } from '../src/execute.js'
import type { Host } from '../src/host.js'
import { startShop } from '../__tests__/helpers/sample.js'

const folder = resolve('.demo/backups')

function host(inputs: Record<string, string>): Host {
  return {
    input: name => inputs[name] ?? '',
    output: (name, value) => console.log(`  output ${name} = ${String(value).slice(0, 120)}`),
    secret: () => undefined,
    info: message => console.log(message),
    warning: message => console.log(`warning: ${message}`),
    debug: () => undefined,
    summary: async markdown => console.log(`\n${markdown}`),
    env: process.env
  }
}

async function main(): Promise<void> {
  rmSync(folder, { recursive: true, force: true })
  mkdirSync(folder, { recursive: true })
  console.log('Starting a throwaway PostgreSQL cluster…')
  const pg = await startShop()
  try {
    await pg.createDatabase('drill')
    const common = { 'database-url': pg.url('shop'), storage: 'local', path: folder, 'encryption-passphrase': 'demo passphrase' }
    for (const inputs of [
      { ...common, command: 'backup' },
      { ...common, command: 'drill', 'target-database-url': pg.url('drill') }
    ]) {
      console.log(`\n$ pg-backup ${inputs.command}`)
      const failure = await execute(host(inputs))
      if (failure) throw new Error(failure)
    }
    console.log(`\nBackups are in ${folder}/shop. Restore one by hand with:\n  gpg --decrypt <id>.dump.zst.gpg | zstd -d | pg_restore -d <database>`)
  } finally {
    await pg.stop()
  }
}

main().catch(error => {
  console.error(`demo failed: ${(error as Error).message}`)
  process.exitCode = 1
})
