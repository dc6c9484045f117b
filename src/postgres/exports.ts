import type { Readable } from 'node:stream'
import { to as copyTo } from 'pg-copy-streams'
import type { ExportQuery } from '../model/vocabulary.js'
import { connect, type SqlClient } from './client.js'
import type { Connection } from './connection.js'

/**
 * A second session that imports the dump's exported snapshot, read-only: the exports see
 * exactly the rows the dump and the row counts see, and a query that would write fails.
 * Row security is off as in the counting session: a role that cannot see every row fails
 * instead of exporting a subset.
 */
export async function snapshotSession(conn: Connection, snapshot: string): Promise<SqlClient> {
  const client = await connect(conn)
  try {
    await client.query('SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET lock_timeout = 0; SET row_security = off')
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`)
    return client
  } catch (error) {
    await client.end().catch(() => undefined)
    throw error
  }
}

export interface CsvExport {
  /** CSV with a header line, as `COPY … TO STDOUT (FORMAT csv, HEADER)` writes it. */
  output: Readable
  /** The rows COPY reported, once `output` has ended. */
  rows(): number
}

/** Streams one export's rows; the query text was checked to be one statement (inputs.ts). */
export function copyCsv(client: SqlClient, query: ExportQuery): CsvExport {
  // The query on lines of its own: a trailing -- comment cannot swallow the closing parenthesis.
  const stream = client.query(copyTo(`COPY (\n${query.sql}\n) TO STDOUT WITH (FORMAT csv, HEADER)`))
  return { output: stream, rows: () => stream.rowCount }
}
