import { InputError } from '../errors.js'
import type { Secrets } from '../secrets.js'

/** Where and how to connect, without ever putting the password on a command line. */
export interface Connection {
  host?: string
  port?: number
  user?: string
  password?: string
  database?: string
  /** libpq parameters passed through (sslmode, sslrootcert, options, application_name, …). */
  params: Record<string, string>
}

const PARAM_ENV: Record<string, string> = {
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  options: 'PGOPTIONS',
  application_name: 'PGAPPNAME',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  target_session_attrs: 'PGTARGETSESSIONATTRS'
}

/**
 * Reads a postgres:// URL (`input` names it in errors), filling what it leaves out
 * from the PG* environment variables, as libpq does. Registers every secret form.
 */
export function parseConnection(url: string, env: NodeJS.ProcessEnv, secrets: Secrets, input = 'database-url'): Connection {
  const fromEnv: Connection = {
    host: env.PGHOST || undefined,
    port: env.PGPORT ? Number(env.PGPORT) : undefined,
    user: env.PGUSER || undefined,
    password: env.PGPASSWORD || undefined,
    database: env.PGDATABASE || undefined,
    params: {}
  }
  for (const [param, name] of Object.entries(PARAM_ENV)) {
    if (env[name]) fromEnv.params[param] = env[name] as string
  }
  secrets.add(fromEnv.password)
  if (!url) {
    if (!fromEnv.host && !fromEnv.database) {
      throw new InputError(input, 'is required (a postgresql:// URL), or set the PGHOST/PGDATABASE environment variables')
    }
    return fromEnv
  }
  secrets.add(url)
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new InputError(input, 'must be a URL of the form postgresql://user:password@host:5432/database')
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new InputError(input, 'is not a valid URL; percent-encode special characters in the password (e.g. @ as %40)')
  }
  // An unencoded "/", "?" or "#" in the password ends the host part early: what parses is the wrong URL
  // (e.g. postgres:4/Qx9@host takes "4" for a port); the "@" left in the path or fragment gives it away.
  if (/@/.test(parsed.pathname + parsed.hash)) {
    throw new InputError(
      input,
      'does not parse as one user:password@host: the password (or user) holds a character URLs reserve; percent-encode it (e.g. / as %2F, # as %23, ? as %3F, @ as %40)'
    )
  }
  const password = parsed.password ? safeDecode(parsed.password) : fromEnv.password
  secrets.add(password)
  const conn: Connection = {
    host: parsed.hostname ? safeDecode(parsed.hostname).replace(/^\[|\]$/g, '') : fromEnv.host,
    port: parsed.port ? Number(parsed.port) : fromEnv.port,
    user: parsed.username ? safeDecode(parsed.username) : fromEnv.user,
    password,
    database: parsed.pathname.length > 1 ? safeDecode(parsed.pathname.slice(1)) : fromEnv.database,
    params: { ...fromEnv.params }
  }
  for (const [key, value] of parsed.searchParams) {
    if (key === 'host') conn.host = value
    else if (key === 'port') conn.port = Number(value)
    else if (key === 'user') conn.user = value
    else if (key === 'dbname') conn.database = value
    else if (key === 'password') {
      conn.password = value
      secrets.add(value)
    } else conn.params[key] = value
  }
  if (conn.port !== undefined && !(Number.isInteger(conn.port) && conn.port > 0 && conn.port < 65536)) {
    throw new InputError(input, 'has an invalid port')
  }
  return conn
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Environment for libpq tools: the password travels here, never in argv. */
export function libpqEnv(conn: Connection, database = conn.database): Record<string, string> {
  const env: Record<string, string> = {}
  if (conn.host) env.PGHOST = conn.host
  if (conn.port) env.PGPORT = String(conn.port)
  if (conn.user) env.PGUSER = conn.user
  if (conn.password) env.PGPASSWORD = conn.password
  if (database) env.PGDATABASE = database
  for (const [param, value] of Object.entries(conn.params)) {
    const name = PARAM_ENV[param]
    if (name) env[name] = value
  }
  return env
}

/**
 * A dead peer (a network that stops answering, no RST) is noticed in about a minute:
 * keepalive probes after 30 s idle, every 10 s, 3 misses; unacknowledged data for 60 s.
 * The URL's own keepalive parameters win.
 */
export const KEEPALIVE_IDLE_SECONDS = 30
const KEEPALIVES: Record<string, string> = {
  keepalives: '1',
  keepalives_idle: String(KEEPALIVE_IDLE_SECONDS),
  keepalives_interval: '10',
  keepalives_count: '3',
  tcp_user_timeout: '60000'
}

/**
 * The --dbname a libpq program gets: a connection string with the database and the
 * keepalive settings (libpq reads those from no environment variable). No password:
 * that travels in the environment (libpqEnv).
 */
export function libpqConninfo(conn: Connection, database = conn.database): string {
  const params: Record<string, string> = { ...(database ? { dbname: database } : {}), ...KEEPALIVES }
  for (const [key, value] of Object.entries(conn.params)) if (key in KEEPALIVES) params[key] = value
  return Object.entries(params)
    .map(([key, value]) => `${key}='${value.replace(/[\\']/g, c => `\\${c}`)}'`)
    .join(' ')
}

/** user@host:port/database, for logs and summaries. */
export function describeConnection(conn: Connection): string {
  const host = conn.host ?? 'localhost'
  return `${conn.user ?? ''}${conn.user ? '@' : ''}${host}${conn.port ? `:${conn.port}` : ''}/${conn.database ?? ''}`
}

/** True when two connections point at the same database (used to refuse restoring over the source). */
export function sameDatabase(a: Connection, b: Connection): boolean {
  const norm = (h?: string) => (!h || h === 'localhost' || h === '127.0.0.1' || h === '::1' || h.startsWith('/') ? 'local' : h.toLowerCase())
  return norm(a.host) === norm(b.host) && (a.port ?? 5432) === (b.port ?? 5432) && (a.database ?? a.user) === (b.database ?? b.user)
}

/**
 * The environment for a child program: ours without the action's inputs, the CLI's
 * PG_BACKUP_* variables and any ambient connection settings, plus `extra`. A tool
 * only ever sees the one connection it is meant for.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(INPUT_|PG_BACKUP_)/.test(key) || /^PG(HOST|HOSTADDR|PORT|USER|PASSWORD|DATABASE|SERVICE|OPTIONS)$/.test(key)) continue
    env[key] = value
  }
  return { ...env, ...extra }
}
