/**
 * The benchmark's database: `accounts` and a large `events` table of realistic rows
 * (uuids, word text of varied length, jsonb documents whose shape depends on the
 * event kind, timestamps), grown in batches until pg_database_size reaches the target.
 */
import type { TestCluster } from '../../__tests__/helpers/postgres.js'

export interface Dataset {
  database: string
  bytes: number
  rows: Record<string, number>
  generateSeconds: number
}

const ACCOUNTS = 50_000
const FIRST_BATCH = 20_000

// Text built from a vocabulary compresses like real prose; md5/random parts (session ids,
// uuids, ips, amounts) do not. Together they give zstd a realistic 3-6x, not 100x.
const WORDS = `order invoice customer shipping delayed refund payment card declined address update account
  premium basic trial upgrade downgrade cancel renewal discount coupon cart checkout product review rating
  support ticket resolved escalated priority urgent normal low warehouse stock inventory supplier backorder
  email sms push notification opened clicked bounced spam unsubscribe mobile desktop tablet browser session
  login logout password reset verified pending active suspended region europe america asia returned
  exchanged gift wrapped express standard overnight pickup locker tracking label printed scanned`.split(/\s+/)

const KINDS = ['page_view', 'page_view', 'page_view', 'click', 'click', 'search', 'add_to_cart', 'purchase', 'refund', 'login']

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'okhttp/4.12.0'
]

const sqlArray = (items: string[]): string => `ARRAY[${items.map(i => `'${i.replace(/'/g, "''")}'`).join(',')}]`

const SCHEMA = `
CREATE TABLE accounts (
  id         int PRIMARY KEY,
  name       text NOT NULL,
  email      text NOT NULL UNIQUE,
  plan       text NOT NULL,
  settings   jsonb NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE events (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id int NOT NULL,
  kind       text NOT NULL,
  payload    jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  note       text
);
CREATE INDEX events_account_created ON events (account_id, created_at);
CREATE INDEX events_kind_created ON events (kind, created_at);`

const ACCOUNTS_SQL = `
WITH d AS (SELECT ${sqlArray(WORDS)} AS w)
INSERT INTO accounts
SELECT g,
       initcap(d.w[1 + floor(random() * array_length(d.w, 1))::int]) || ' ' || initcap(d.w[1 + floor(random() * array_length(d.w, 1))::int]) || ' ' || g,
       'user' || g || '.' || substr(md5(random()::text), 1, 6) || '@example.com',
       (ARRAY['free', 'free', 'free', 'pro', 'pro', 'team', 'enterprise'])[1 + floor(random() * 7)::int],
       jsonb_build_object('locale', (ARRAY['en-US', 'en-GB', 'de-DE', 'fr-FR', 'ja-JP'])[1 + floor(random() * 5)::int],
                          'newsletter', random() < 0.3, 'theme', (ARRAY['light', 'dark', 'system'])[1 + floor(random() * 3)::int],
                          'seats', 1 + floor(random() * 50)::int),
       timestamptz '2020-01-01' + random() * interval '4 years'
FROM generate_series(1, ${ACCOUNTS}) g, d`

/**
 * One batch of events, ids from..to. The LATERAL subqueries reference g, so Postgres
 * re-runs them for every row (an uncorrelated one would be evaluated once and repeat).
 * `+ 0 * n` keeps array_agg in its subquery: an aggregate over outer columns only
 * would belong to the outer query.
 */
function eventsSql(from: number, to: number): string {
  return `
WITH d AS (SELECT ${sqlArray(WORDS)} AS w, ${sqlArray(AGENTS)} AS ua, ${sqlArray(KINDS)} AS k)
INSERT INTO events (account_id, kind, payload, created_at, note)
SELECT r.account_id, r.kind,
       jsonb_strip_nulls(jsonb_build_object(
         'v', 1 + r.g % 3,
         'ip', concat_ws('.', floor(random() * 256)::int, floor(random() * 256)::int, floor(random() * 256)::int, floor(random() * 256)::int),
         'ua', d.ua[1 + floor(random() * array_length(d.ua, 1))::int],
         'session', md5(random()::text),
         'path', '/' || t.words[1] || '/' || coalesce(t.words[2], 'index') || '/' || floor(random() * 10000)::int,
         'amount', CASE WHEN r.kind IN ('purchase', 'refund', 'add_to_cart') THEN round((random() * 500)::numeric, 2) END,
         'currency', CASE WHEN r.kind IN ('purchase', 'refund') THEN (ARRAY['USD', 'EUR', 'GBP'])[1 + floor(random() * 3)::int] END,
         'items', CASE WHEN r.kind IN ('purchase', 'add_to_cart') THEN i.items END,
         'query', CASE WHEN r.kind = 'search' THEN array_to_string(t.words[1:3], ' ') END,
         'flags', jsonb_build_object('beta', random() < 0.1, 'mobile', random() < 0.4)
       )),
       timestamptz '2023-01-01' + (r.g * 10 + floor(random() * 10)) * interval '1 second',
       CASE WHEN r.g % 5 = 0 THEN NULL ELSE array_to_string(t.words, ' ') END
FROM (SELECT g, 1 + floor(random() * ${ACCOUNTS})::int AS account_id, d.k[1 + floor(random() * array_length(d.k, 1))::int] AS kind
      FROM generate_series(${from}, ${to}) g, d) r
CROSS JOIN d
CROSS JOIN LATERAL (SELECT array_agg(d.w[1 + floor(random() * array_length(d.w, 1))::int + 0 * n]) AS words
                    FROM generate_series(1, 2 + (r.g::bigint * 7919) % 40) n) t
CROSS JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object('sku', 'SKU-' || floor(random() * 100000)::int, 'qty', 1 + floor(random() * 4)::int,
                                                         'price', round((random() * 200)::numeric, 2)))
                           AS items
                    FROM generate_series(1, 1 + r.g % 5)) i`
}

async function databaseBytes(pg: TestCluster, database: string): Promise<number> {
  const [row] = await pg.query<{ size: string }>(database, 'SELECT pg_database_size(current_database()) AS size')
  return Number(row.size)
}

/** Creates `database` and fills it to about `targetMb` MiB; logs progress. */
export async function createDataset(pg: TestCluster, database: string, targetMb: number, log: (line: string) => void): Promise<Dataset> {
  const started = Date.now()
  const target = targetMb * 1024 * 1024
  await pg.createDatabase(database)
  await pg.query(database, SCHEMA)
  await pg.query(database, ACCOUNTS_SQL)
  const base = await databaseBytes(pg, database)

  // Grow in batches, re-estimating bytes per row (indexes included) after each one.
  let rows = 0
  let batch = FIRST_BATCH
  for (;;) {
    await pg.query(database, eventsSql(rows + 1, rows + batch))
    rows += batch
    const size = await databaseBytes(pg, database)
    log(`  ${rows.toLocaleString('en-US')} events, ${(size / 1048576).toFixed(0)} MiB`)
    if (size >= target) break
    const perRow = (size - base) / rows
    batch = Math.max(1000, Math.min(Math.ceil((target - size) / perRow), Math.ceil(target / perRow / 6)))
  }

  // As a real database would be: constrained, vacuumed (hint bits set, so the first dump
  // does not pay for writing them) and analyzed.
  await pg.query(database, 'ALTER TABLE events ADD CONSTRAINT events_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id)')
  await pg.query(database, 'VACUUM (ANALYZE) accounts')
  await pg.query(database, 'VACUUM (ANALYZE) events')
  await pg.query(database, 'CHECKPOINT')

  const counts = await pg.query<{ accounts: string; events: string }>(
    database,
    'SELECT (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM events) AS events'
  )
  return {
    database,
    bytes: await databaseBytes(pg, database),
    rows: { accounts: Number(counts[0].accounts), events: Number(counts[0].events) },
    generateSeconds: (Date.now() - started) / 1000
  }
}
