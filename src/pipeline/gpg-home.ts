import { execFile } from 'node:child_process'
import { onCancel } from '../cancel.js'
import { withTempDir } from '../tempdir.js'

/**
 * A private, throwaway GnuPG home: the user's keyring is never touched, and the
 * gpg-agent that gpg starts for the passphrase is stopped afterwards.
 */
export async function withGpgHome<T>(work: (home: string) => Promise<T>): Promise<T> {
  return withTempDir('gpg', async home => {
    const killAgent = () => new Promise(resolve => execFile('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { timeout: 2000 }, resolve))
    const release = onCancel(killAgent)
    try {
      return await work(home)
    } finally {
      release()
      await killAgent()
    }
  })
}
