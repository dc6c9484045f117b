import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A private, throwaway GnuPG home: the user's keyring is never touched, and the
 * gpg-agent that gpg starts for the passphrase is stopped afterwards.
 */
export async function withGpgHome<T>(work: (home: string) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'pgb-gpg-'))
  try {
    return await work(home)
  } finally {
    await new Promise(resolve => execFile('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], () => resolve(undefined)))
    await rm(home, { recursive: true, force: true })
  }
}
