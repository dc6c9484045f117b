import { readFileSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { onCancel, throwIfCancelled } from '../cancel.js'
import { BackupError, errorMessage } from '../errors.js'
import { describeConnection, KEEPALIVE_IDLE_SECONDS, type Connection } from './connection.js'

export type SqlClient = pg.Client

/**
 * Opens a node-postgres session with libpq's sslmode semantics: by default
 * ("prefer") it tries TLS first and falls back to plain, as pg_dump does.
 */
export async function connect(conn: Connection): Promise<SqlClient> {
  throwIfCancelled()
  const mode = conn.params.sslmode ?? 'prefer'
  const attempts: Array<pg.ClientConfig['ssl']> =
    mode === 'disable' ? [false] : mode === 'allow' || mode === 'prefer' ? [{ rejectUnauthorized: false }, false] : [tlsFor(conn, mode)]
  let lastError: unknown
  for (const ssl of attempts) {
    const client = new pg.Client({
      host: conn.host,
      port: conn.port,
      user: conn.user,
      password: conn.password,
      database: conn.database,
      ssl,
      options: conn.params.options,
      application_name: 'pg-backup-action',
      // Node sets only the idle time; probe interval and count are libuv's (Node 24: 1 s × 10) or the OS's.
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_SECONDS * 1000,
      connectionTimeoutMillis: Number(conn.params.connect_timeout ?? 20) * 1000
    })
    // A dropped connection must not crash the process; the pending query rejects instead.
    client.on('error', () => undefined)
    try {
      await client.connect()
      // Cancelled: the server stops the session's query (a lock wait would otherwise go on), then it is closed.
      const release = onCancel(async () => {
        await sendCancelRequest(conn, client)
        await close(client)
      })
      client.once('end', release)
      return client
    } catch (error) {
      lastError = error
      await client.end().catch(() => undefined)
      if (!/does not support SSL/i.test(errorMessage(error))) break
    }
  }
  throw new BackupError(`Could not connect to ${describeConnection(conn)}: ${errorMessage(lastError)}`, {
    cause: lastError
  })
}

/** Turns off the server's statement and idle timeouts for this session (whichever the server has). */
export async function withoutTimeouts(client: SqlClient): Promise<void> {
  // First on its own: a tiny statement_timeout could otherwise cut short the catalog query below.
  await client.query('SET statement_timeout = 0')
  await client.query(
    "SELECT pg_catalog.set_config(name, '0', false) FROM pg_catalog.pg_settings WHERE name IN ('statement_timeout', 'idle_in_transaction_session_timeout', 'idle_session_timeout')"
  )
}

/** Ends a session without waiting on a peer that no longer answers. */
export async function close(client: SqlClient): Promise<void> {
  await Promise.race([client.end().catch(() => undefined), sleep(2000, undefined, { ref: false })])
  ;(client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
}

/** The protocol's CancelRequest, on a new connection (what libpq's PQcancel sends). */
function sendCancelRequest(conn: Connection, client: SqlClient): Promise<void> {
  const { processID, secretKey } = client as unknown as { processID?: number; secretKey?: number }
  if (processID === undefined || secretKey === undefined) return Promise.resolve()
  const port = conn.port ?? 5432
  const host = conn.host ?? 'localhost'
  return new Promise(resolve => {
    const socket = host.startsWith('/') ? tcpConnect(`${host}/.s.PGSQL.${port}`) : tcpConnect(port, host)
    const message = Buffer.alloc(16)
    message.writeInt32BE(16, 0)
    message.writeInt32BE(80877102, 4)
    message.writeInt32BE(processID, 8)
    message.writeInt32BE(secretKey, 12)
    socket.setTimeout(2000, () => socket.destroy())
    socket.on('connect', () => socket.end(message))
    socket.on('error', () => resolve())
    socket.on('close', () => resolve())
  })
}

function tlsFor(conn: Connection, mode: string): pg.ClientConfig['ssl'] {
  const file = (name: string) => (conn.params[name] && conn.params[name] !== 'system' ? readFileSync(conn.params[name], 'utf8') : undefined)
  // sslrootcert=system means the system's CAs, which is also Node's default.
  const tls = { ca: file('sslrootcert'), cert: file('sslcert'), key: file('sslkey') }
  if (mode === 'require') return { ...tls, rejectUnauthorized: false }
  if (mode === 'verify-ca') return { ...tls, rejectUnauthorized: true, checkServerIdentity: () => undefined }
  return { ...tls, rejectUnauthorized: true }
}

export interface ServerVersion {
  num: number
  major: number
  text: string
}

export async function serverVersion(client: SqlClient): Promise<ServerVersion> {
  const { rows } = await client.query<{ num: string; text: string }>(
    "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS text"
  )
  const num = Number(rows[0].num)
  return { num, major: Math.floor(num / 10000), text: rows[0].text.split(' ')[0] }
}

export { quoteIdent, quoteIdentIfNeeded } from './names.js'
