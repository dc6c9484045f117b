import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'
import { describeDifference, diffFacts } from '../src/catalog/facts-diff.js'
import type { CatalogFacts } from '../src/model/manifest.js'
import { connect } from '../src/postgres/client.js'
import { parseConnection } from '../src/postgres/connection.js'
import { collectFacts } from '../src/postgres/facts.js'
import type { TableFilters } from '../src/postgres/patterns.js'
import { Secrets } from '../src/secrets.js'
import type { TestCluster } from './helpers/postgres.js'
import { startShop } from './helpers/sample.js'

const ALL: TableFilters = { schemas: [], excludeSchemas: [], tables: [], excludeTables: [] }
let pg: TestCluster

async function factsOf(database: string, filters = ALL): Promise<CatalogFacts> {
  const client = await connect(parseConnection(pg.url(database), {}, new Secrets()))
  try {
    return await collectFacts(client, filters)
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  pg = await startShop()
  await pg.query(
    'shop',
    `CREATE ROLE reader NOLOGIN;
     GRANT USAGE ON SCHEMA app TO reader;
     GRANT SELECT ON public.orders TO reader;
     GRANT SELECT (id, email) ON public.customers TO reader;
     CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$BEGIN RETURN NEW; END$$;
     REVOKE EXECUTE ON FUNCTION app.touch() FROM PUBLIC;
     CREATE TRIGGER audit_touch BEFORE INSERT ON app.audit_log FOR EACH ROW EXECUTE FUNCTION app.touch();
     CREATE POLICY orders_reader ON public.orders FOR UPDATE TO reader, postgres USING (amount > 0) WITH CHECK (amount < 1e6);
     CREATE PUBLICATION pub FOR TABLE public.orders, app.audit_log;
     SELECT lo_from_bytea(0, 'hello');`
  )
})

afterAll(async () => {
  await pg?.query('shop', 'DROP OWNED BY reader').catch(() => undefined)
  await pg?.query('postgres', 'DROP ROLE IF EXISTS reader').catch(() => undefined)
  await pg?.stop()
})

describe('collectFacts', () => {
  test('reads every kind of object, names qualified, owner privileges left out', async () => {
    const facts = await factsOf('shop')
    expect(facts.tables.find(t => t.name === 'public.orders')).toEqual({ name: 'public.orders', kind: 'table', rls: true, forceRls: false })
    expect(facts.tables.find(t => t.name === 'public.customer_totals')?.kind).toBe('view')
    expect(facts.columns.find(c => c.name === 'public.orders.status')).toEqual({
      name: 'public.orders.status',
      type: 'public.order_status',
      notNull: true,
      default: "'new'::public.order_status"
    })
    expect(facts.policies.find(p => p.name === 'public.orders.orders_reader')).toEqual({
      name: 'public.orders.orders_reader',
      table: 'public.orders',
      command: 'UPDATE',
      permissive: true,
      roles: ['postgres', 'reader'],
      using: '(amount > (0)::numeric)',
      check: "(amount < '1000000'::numeric)"
    })
    expect(facts.grants.filter(g => g.role === 'reader').map(g => [g.name, g.privileges])).toEqual([
      ['column public.customers.email to reader', ['SELECT']],
      ['column public.customers.id to reader', ['SELECT']],
      ['schema app to reader', ['USAGE']],
      ['table public.orders to reader', ['SELECT']]
    ])
    // Functions grant EXECUTE to PUBLIC unless revoked: a revoke is a fact too.
    expect(facts.grants.some(g => g.object === 'function app.touch()')).toBe(false)
    expect(facts.functions).toEqual([{ name: 'app.touch()', kind: 'f', securityDefiner: false, config: ['search_path=""'], bodyMd5: expect.any(String) }])
    expect(facts.triggers).toEqual([
      {
        name: 'app.audit_log.audit_touch',
        table: 'app.audit_log',
        definition: 'CREATE TRIGGER audit_touch BEFORE INSERT ON app.audit_log FOR EACH ROW EXECUTE FUNCTION app.touch()',
        enabled: 'O'
      }
    ])
    expect(facts.sequences.find(s => s.name === 'app.audit_log_id_seq')).toEqual({ name: 'app.audit_log_id_seq', lastValue: '500' })
    expect(facts.sequences.find(s => s.name === 'public.empty_things_id_seq')).toEqual({ name: 'public.empty_things_id_seq', lastValue: null })
    expect(facts.indexes.map(i => i.name)).toContain('public.orders_open_idx')
    expect(facts.constraints.find(k => k.name === 'public.orders.orders_customer_id_fkey')).toMatchObject({ type: 'f' })
    expect(facts.publications).toEqual([{ name: 'pub', allTables: false, tables: ['app.audit_log', 'public.orders'] }])
    expect(facts.largeObjects).toBe(1)
  })

  test('follows the dump filters: -n keeps schemas, -t keeps tables and their sequences only', async () => {
    const app = await factsOf('shop', { ...ALL, schemas: ['app'] })
    expect(app.tables.map(t => t.name)).toEqual(['app.audit_log'])
    expect(app.functions.map(f => f.name)).toEqual(['app.touch()'])
    expect(app.publications).toEqual([])
    const one = await factsOf('shop', { ...ALL, tables: ['app.audit_log'] })
    expect(one.tables.map(t => t.name)).toEqual(['app.audit_log'])
    expect(one.sequences.map(s => s.name)).toEqual(['app.audit_log_id_seq'])
    expect(one.functions).toEqual([])
  })

  test('leaves the session search_path as it was', async () => {
    const client = await connect(parseConnection(pg.url('shop'), {}, new Secrets()))
    try {
      await client.query('SET search_path = app, public')
      await collectFacts(client, ALL)
      expect((await client.query('SHOW search_path')).rows[0].search_path).toBe('app, public')
    } finally {
      await client.end()
    }
  })
})

describe('diffFacts', () => {
  test('the same database has no differences; each change is named', async () => {
    const before = await factsOf('shop')
    expect(diffFacts(before, before)).toEqual([])
    await pg.query(
      'shop',
      `DROP POLICY orders_reader ON public.orders; REVOKE SELECT ON public.orders FROM reader; GRANT INSERT ON public.orders TO reader;
       ALTER TABLE app.audit_log DISABLE TRIGGER audit_touch; CREATE INDEX extra_idx ON app.audit_log (actor);
       SELECT setval('app.audit_log_id_seq', 400)`
    )
    try {
      const after = await factsOf('shop')
      const lines = diffFacts(before, after).map(describeDifference)
      expect(lines).toEqual([
        'index app.extra_idx is not in the backup',
        'trigger app.audit_log.audit_touch differs (enabled: O → D)',
        'policy public.orders.orders_reader is missing',
        'sequence app.audit_log_id_seq differs (lastValue: 500 → 400)',
        'grant table public.orders to reader differs (privileges: ["SELECT"] → ["INSERT"])'
      ])
      // A sequence that moved on is not a difference.
      expect(diffFacts(after, before).filter(d => d.category === 'sequences')).toEqual([])
    } finally {
      await pg.query(
        'shop',
        `CREATE POLICY orders_reader ON public.orders FOR UPDATE TO reader, postgres USING (amount > 0) WITH CHECK (amount < 1e6);
         REVOKE INSERT ON public.orders FROM reader; GRANT SELECT ON public.orders TO reader;
         ALTER TABLE app.audit_log ENABLE TRIGGER audit_touch; DROP INDEX app.extra_idx; SELECT setval('app.audit_log_id_seq', 500)`
      )
    }
  })
})
