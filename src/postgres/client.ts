import { readFileSync } from 'node:fs'
import pg from 'pg'
import { BackupError, errorMessage } from '../errors.js'
import { describeConnection, type Connection } from './connection.js'

export type SqlClient = pg.Client

/**
 * Opens a node-postgres session with libpq's sslmode semantics: by default
 * ("prefer") it tries TLS first and falls back to plain, as pg_dump does.
 */
export async function connect(conn: Connection): Promise<SqlClient> {
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
      connectionTimeoutMillis: Number(conn.params.connect_timeout ?? 20) * 1000
    })
    // A dropped connection must not crash the process; the pending query rejects instead.
    client.on('error', () => undefined)
    try {
      await client.connect()
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

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`
