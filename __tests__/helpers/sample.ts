/**
 * A small but awkward sample database, and a fingerprint to check that a restore reproduced it.
 */
import pg from 'pg'
import { startCluster, type TestCluster } from './postgres.js'
import { startS3, type TestS3 } from './s3.js'

/**
 * Plain SQL (no psql meta-commands, no COPY FROM STDIN): runs through psql or one node-postgres query.
 * Deterministic: loading it twice gives equal fingerprints.
 */
export const SAMPLE_SQL = String.raw`
CREATE TYPE public.order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled', 'it''s "odd"');

CREATE TABLE public.customers (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email       text NOT NULL,
  name        text,
  profile     jsonb NOT NULL DEFAULT '{}',
  avatar      bytea,
  tags        text[] NOT NULL DEFAULT '{}',
  scores      int[],
  balance     numeric(14, 4),
  ratio       double precision,
  created_at  timestamptz NOT NULL,
  email_lower text GENERATED ALWAYS AS (lower(email)) STORED
);
CREATE UNIQUE INDEX customers_email_lower_key ON public.customers (email_lower);
CREATE INDEX customers_profile_gin ON public.customers USING gin (profile);
CREATE INDEX customers_created_at_idx ON public.customers (created_at DESC);

CREATE TABLE public.orders (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES public.customers (id) ON DELETE CASCADE,
  status      public.order_status NOT NULL DEFAULT 'new',
  amount      numeric NOT NULL,
  note        text,
  placed_at   timestamptz NOT NULL
);
CREATE INDEX orders_customer_idx ON public.orders (customer_id);
CREATE INDEX orders_open_idx ON public.orders (placed_at) WHERE status IN ('new', 'paid');

-- Row level security with two policies (roles that exist everywhere).
ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_read_open ON public.orders FOR SELECT TO PUBLIC USING (status <> 'cancelled');
CREATE POLICY orders_insert_positive ON public.orders FOR INSERT TO PUBLIC WITH CHECK (amount >= 0);

CREATE VIEW public.customer_totals AS
  SELECT c.id, c.email, count(o.id) AS orders, coalesce(sum(o.amount), 0) AS total
  FROM public.customers c LEFT JOIN public.orders o ON o.customer_id = c.id
  GROUP BY c.id, c.email;

CREATE TABLE public.empty_things (id serial PRIMARY KEY, label text);

CREATE SCHEMA app;
CREATE TABLE app.audit_log (
  id        bigserial PRIMARY KEY,
  actor     text,
  action    text NOT NULL,
  payload   jsonb,
  at        timestamptz NOT NULL
);
CREATE INDEX audit_log_action_at_idx ON app.audit_log (action, at);

-- 1000 customers; every 7th row gets awkward values.
INSERT INTO public.customers (email, name, profile, avatar, tags, scores, balance, ratio, created_at)
SELECT
  'User' || i || '@Example.com',
  CASE i % 7
    WHEN 0 THEN NULL
    WHEN 1 THEN E'tab\there\nnew line\r\nand a backslash \\ and ''quotes'' "double"'
    WHEN 2 THEN 'Zoë Ñandú 日本語 🐘 עברית ' || i
    WHEN 3 THEN E'\\.'                          -- the COPY end-of-data marker as a value
    WHEN 4 THEN E'line1\n\\.\nline3'
    WHEN 5 THEN ''                              -- empty string, not NULL
    ELSE E'\\N'                                 -- COPY's NULL marker as text
  END,
  jsonb_build_object('n', i, 'even', i % 2 = 0, 'nested', jsonb_build_object('s', E'q"u\\o\te', 'arr', jsonb_build_array(i, 'x', NULL)),
                     'unicode', 'naïve ✓')
    || CASE WHEN i % 10 = 0 THEN '{"extra": [1, 2.5, "three", null, {}]}'::jsonb ELSE '{}' END,
  CASE WHEN i % 5 = 0 THEN NULL ELSE sha256(int4send(i)) || '\x00ff005c'::bytea END,
  CASE i % 4 WHEN 0 THEN '{}' WHEN 1 THEN ARRAY['a', NULL, 'with,comma', 'with "quote"', E'back\\slash', '{braces}'] ELSE ARRAY['t' || i] END,
  CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN '{}' ELSE ARRAY[i, -i, 2147483647, NULL] END,
  CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 12345.6789 - 500000)::numeric(14, 4) END,
  CASE i % 13 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-Infinity'::float8 ELSE i / 7.0::float8 END,
  timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour 1 minute 1.5 second'
FROM generate_series(1, 1000) AS i;

-- One large, incompressible bytea (~1 MiB) to exercise TOAST.
UPDATE public.customers
SET avatar = (SELECT string_agg(sha256(int4send(j)), ''::bytea ORDER BY j) FROM generate_series(1, 32768) AS j)
WHERE id = 42;

INSERT INTO public.orders (customer_id, status, amount, note, placed_at)
SELECT
  1 + (i * 7919) % 1000,
  (ARRAY['new', 'paid', 'shipped', 'cancelled', 'it''s "odd"']::public.order_status[])[1 + i % 5],
  CASE WHEN i % 17 = 0 THEN 'NaN'::numeric ELSE round((i * 3.14159)::numeric, 2) END,
  CASE WHEN i % 3 = 0 THEN NULL ELSE 'order #' || i || E'\t' || repeat('ä', i % 20) END,
  timestamptz '2024-06-01 12:00:00+02' + i * interval '37 minutes'
FROM generate_series(1, 3000) AS i;

INSERT INTO app.audit_log (actor, action, payload, at)
SELECT
  CASE WHEN i % 4 = 0 THEN NULL ELSE 'user' || (i % 50) END,
  (ARRAY['login', 'logout', 'update', 'delete'])[1 + i % 4],
  CASE WHEN i % 6 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'msg', E'multi\nline') END,
  timestamptz '2024-03-10 01:59:59+00' + i * interval '1 second'
FROM generate_series(1, 500) AS i;
`

export interface TableFingerprint {
  schema: string
  table: string
  rows: number
  /** md5 of all rows as text, sorted bytewise. */
  md5: string
  rowSecurity: boolean
}

export interface Fingerprint {
  tables: TableFingerprint[]
  columns: { schema: string; table: string; column: string; type: string; notNull: boolean; identity: string; generated: string }[]
  policies: { schema: string; table: string; name: string; cmd: string; roles: string; qual: string | null; withCheck: string | null }[]
  indexes: { schema: string; table: string; name: string; definition: string }[]
  enums: { schema: string; name: string; labels: string[] }[]
  views: string[]
  sequences: { schema: string; name: string; lastValue: string | null }[]
}

// Objects in these schemas, or belonging to an extension, are not user data.
const userSchema = (col: string) => `${col} NOT IN ('pg_catalog', 'information_schema') AND ${col} NOT LIKE 'pg\\_%'`
const USER_NS = userSchema('n.nspname')
const NOT_EXT = (oid: string, catalog: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`

// Catalog names have type `name`, which sorts bytewise ("C") on PG12+, so ORDER BY on them is locale-independent.

/**
 * Everything a faithful restore must reproduce. Row text is rendered with fixed session settings and
 * sorted with COLLATE "C", so databases on different clusters/versions/locales compare equal.
 */
export async function databaseFingerprint(cluster: TestCluster, database: string): Promise<Fingerprint> {
  const client = new pg.Client({
    connectionString: cluster.url(database),
    options: '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=1 -c bytea_output=hex'
  })
  client.on('error', () => {})
  await client.connect()
  const q = async <T>(sql: string): Promise<T[]> => (await client.query(sql)).rows as T[]
  try {
    const tables = await q<{ schema: string; table: string; rowSecurity: boolean }>(`
      SELECT n.nspname AS schema, c.relname AS table, c.relrowsecurity AS "rowSecurity"
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND ${USER_NS} AND ${NOT_EXT('c.oid', 'pg_class')}
      ORDER BY 1, 2`)
    const tableFps: TableFingerprint[] = []
    for (const t of tables) {
      const rel = `${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.table)}`
      const [r] = await q<{ rows: number; md5: string }>(
        `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C"), '')) AS md5
         FROM ONLY ${rel} t`
      )
      tableFps.push({ schema: t.schema, table: t.table, rows: r.rows, md5: r.md5, rowSecurity: t.rowSecurity })
    }
    const columns = await q<Fingerprint['columns'][number]>(`
      SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
             a.attnotnull AS "notNull", a.attidentity::text AS identity, a.attgenerated::text AS generated
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND ${USER_NS} AND ${NOT_EXT('c.oid', 'pg_class')}
      ORDER BY 1, 2, a.attnum`)
    const policies = await q<Fingerprint['policies'][number]>(`
      SELECT schemaname AS schema, tablename AS table, policyname AS name, cmd, roles::text AS roles,
             qual, with_check AS "withCheck"
      FROM pg_policies ORDER BY 1, 2, 3`)
    const indexes = await q<Fingerprint['indexes'][number]>(`
      SELECT schemaname AS schema, tablename AS table, indexname AS name, indexdef AS definition
      FROM pg_indexes WHERE ${userSchema('schemaname')}
      ORDER BY 1, 2, 3`)
    const enums = await q<Fingerprint['enums'][number]>(`
      SELECT n.nspname AS schema, t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
      FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE ${USER_NS} AND ${NOT_EXT('t.oid', 'pg_type')}
      GROUP BY 1, 2 ORDER BY 1, 2`)
    const views = await q<{ v: string }>(`
      SELECT n.nspname || '.' || c.relname AS v
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm') AND ${USER_NS} AND ${NOT_EXT('c.oid', 'pg_class')}
      ORDER BY n.nspname, c.relname`)
    const sequences = await q<Fingerprint['sequences'][number]>(`
      SELECT schemaname AS schema, sequencename AS name, last_value::text AS "lastValue"
      FROM pg_sequences WHERE ${userSchema('schemaname')}
      ORDER BY 1, 2`)
    return { tables: tableFps, columns, policies, indexes, enums, views: views.map(v => v.v), sequences }
  } finally {
    await client.end()
  }
}

/** A migration of the kind a schema history and a drift report must show: a column, a policy, a grant (anon's SELECT on orders), an index. */
export const SAMPLE_MIGRATION = `
ALTER TABLE public.customers ADD COLUMN phone text;
DROP POLICY orders_insert_positive ON public.orders;
REVOKE SELECT ON public.orders FROM anon;
CREATE INDEX orders_amount_idx ON public.orders (amount)`

/** A fresh cluster holding the sample data in database "shop". */
export async function startShop(): Promise<TestCluster> {
  const cluster = await startCluster()
  await cluster.createDatabase('shop')
  await cluster.query('shop', SAMPLE_SQL)
  return cluster
}

/** The sample database and an S3 server whose credentials are in the process environment, where the action's AWS chain reads them. */
export async function startShopAndS3(): Promise<{ pg: TestCluster; s3: TestS3 }> {
  const [pg, s3] = await Promise.all([startShop(), startS3()])
  Object.assign(process.env, s3.env)
  return { pg, s3 }
}
