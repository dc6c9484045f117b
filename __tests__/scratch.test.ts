import { test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { startCluster } from './helpers/postgres.js'
import { startSupabase } from './helpers/supabase-fixture.js'

test('scratch', async () => {
  const sb = await startSupabase()
  const plain = await startCluster()
  try {
    await sb.project('app')
    const url = sb.urlAsPostgres('app')
    execFileSync('/usr/lib/postgresql/15/bin/pg_dump', ['-Fc', '-f', '/tmp/sb.dump', url])
    console.log(execFileSync('/usr/lib/postgresql/15/bin/pg_restore', ['-l', '/tmp/sb.dump'], { encoding: 'utf8' }))
    await plain.createDatabase('drill')
    try {
      execFileSync('/usr/lib/postgresql/15/bin/pg_restore', ['--verbose', '-d', plain.url('drill'), '/tmp/sb.dump'], { encoding: 'utf8', stdio: 'pipe' })
    } catch (e) {
      console.log(
        String((e as { stderr: string }).stderr)
          .split('\n')
          .filter(l => !/^pg_restore: (creating|processing|executing|connecting)/.test(l))
          .join('\n')
      )
    }
  } finally {
    await sb.cluster.stop()
    await plain.stop()
  }
}, 120000)
