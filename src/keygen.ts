import { writeFile } from 'node:fs/promises'
import { generateKeyPair } from './pipeline/age.js'

/**
 * `pg-backup keygen [--output key.txt]`: a new age key pair, so that no other tool is needed.
 * The identity file (the private key) goes to `output`, created 0600 and never overwritten, or
 * to stdout; the public key, the value for encryption-public-keys, is printed on stderr.
 */
export async function keygen(output: string | undefined, write: { stdout: (text: string) => void; stderr: (text: string) => void }): Promise<string> {
  const pair = await generateKeyPair(new Date())
  if (output) await writeFile(output, pair.file, { mode: 0o600, flag: 'wx' })
  else write.stdout(pair.file)
  write.stderr(
    `Public key: ${pair.recipient}\n` +
      `Set it as encryption-public-keys. Keep the private key${output ? ` (${output})` : ''} off the backup job: store it offline and, for drills, in a separate environment's secret encryption-private-key.\n`
  )
  return pair.recipient
}
