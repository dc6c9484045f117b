/**
 * Runs s3rver in its own Node process for __tests__/helpers/s3.ts (jest would otherwise share its event loop
 * with the code under test). Must be started with --openssl-legacy-provider: s3rver encrypts ListObjectsV2
 * continuation tokens with DES, which OpenSSL 3 only offers through the legacy provider.
 *
 * argv[2]: a temp dir. Objects go to <dir>/data; the number of HTTP requests received so far is kept in
 * <dir>/request-count (overwritten in place, so a reader never sees a truncated file).
 * Prints {"port": N} on stdout once listening; exits when the parent's IPC channel closes.
 */
import fs from 'node:fs'
import path from 'node:path'
import S3rver from 's3rver'

const dir = process.argv[2]
const counterFd = fs.openSync(path.join(dir, 'request-count'), 'w')
let count = 0
fs.writeSync(counterFd, '0'.padStart(16), 0)

const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dir, 'data') })
try {
  const { port } = await server.run()
  server.httpServer.prependListener('request', () => {
    count++
    fs.writeSync(counterFd, String(count).padStart(16), 0)
  })
  process.stdout.write(JSON.stringify({ port }) + '\n')
} catch (err) {
  console.error(err)
  process.exit(1)
}

// The parent died or let go of us: do not linger.
process.on('disconnect', () => process.exit(0))
