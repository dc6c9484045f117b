/**
 * The schema-history example end to end: the action runs with the exact inputs the example
 * (through schema-snapshot.yml) passes, in a clone of a local bare repository, against a small
 * local server that speaks the three GitHub endpoints used (list, create, update pull requests).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectNoSecrets, runAction } from './helpers/action.js'
import { PG15_BIN_DIR, type TestCluster } from './helpers/postgres.js'
import { startShop } from './helpers/sample.js'
import { actionInputEnv, actionStepsOf } from './helpers/workflow-steps.js'

const TOKEN = 'ghs_schemaTestToken0123456789'

interface Pull {
  number: number
  head: string
  base: string
  title: string
  body: string
  state: 'open' | 'closed'
}

/** The pull request endpoints, kept in memory; every request recorded. */
function fakeGitHub() {
  const pulls: Pull[] = []
  const requests: Array<{ method: string; url: string; auth?: string }> = []
  const server: Server = createServer((req, res) => {
    let text = ''
    req.on('data', chunk => (text += chunk))
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization })
      const url = new URL(req.url ?? '/', 'http://localhost')
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      const view = (p: Pull) => ({ ...p, html_url: `https://github.test/acme/app/pull/${p.number}`, head: { ref: p.head }, base: { ref: p.base } })
      if (req.headers.authorization !== `token ${TOKEN}`) return json(401, { message: 'Bad credentials' })
      if (url.pathname === '/repos/acme/app/pulls' && req.method === 'GET') {
        const head = url.searchParams.get('head')
        return json(
          200,
          pulls.filter(p => p.state === url.searchParams.get('state') && `acme:${p.head}` === head && p.base === url.searchParams.get('base')).map(view)
        )
      }
      if (url.pathname === '/repos/acme/app/pulls' && req.method === 'POST') {
        const body = JSON.parse(text) as Pull
        const pull: Pull = { number: pulls.length + 1, head: body.head, base: body.base, title: body.title, body: body.body, state: 'open' }
        pulls.push(pull)
        return json(201, view(pull))
      }
      const update = /^\/repos\/acme\/app\/pulls\/(\d+)$/.exec(url.pathname)
      if (update && req.method === 'PATCH') {
        const pull = pulls.find(p => p.number === Number(update[1]))
        if (!pull) return json(404, { message: 'Not Found' })
        Object.assign(pull, JSON.parse(text))
        return json(200, view(pull))
      }
      json(404, { message: 'Not Found' })
    })
  })
  return { server, pulls, requests }
}

let pg: TestCluster
let dir: string
let github: ReturnType<typeof fakeGitHub>
let apiUrl: string

beforeAll(async () => {
  pg = await startShop()
  github = fakeGitHub()
  await new Promise<void>(resolve => github.server.listen(0, '127.0.0.1', resolve))
  apiUrl = `http://127.0.0.1:${(github.server.address() as { port: number }).port}`
})

afterAll(async () => {
  await pg?.stop()
  await new Promise(resolve => github?.server.close(resolve))
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim()

/** The example's action step, with the inputs as the runner would set them, run in `workspace`. */
async function runExample(workspace: string, inputs: Record<string, string> = {}) {
  const [step] = actionStepsOf('examples/schema-history.yml', {
    secrets: { DATABASE_URL: pg.url('shop') },
    github: { token: TOKEN, workflow: 'Schema history' }
  })
  const env = actionInputEnv(step)
  const given = Object.fromEntries(Object.entries(env).map(([k, v]) => [k.slice('INPUT_'.length).toLowerCase(), v]))
  expect(given).toMatchObject({ command: 'schema', 'schema-commit': 'pull-request', 'schema-file': 'db/schema.sql', 'github-token': TOKEN })
  const run = await runAction(
    { ...given, 'pg-bin-dir': PG15_BIN_DIR, ...inputs },
    { GITHUB_WORKSPACE: workspace, GITHUB_REPOSITORY: 'acme/app', GITHUB_API_URL: apiUrl, GITHUB_REF: 'refs/heads/main' }
  )
  expectNoSecrets([run.log, JSON.stringify(run.outputs)], [TOKEN, pg.password, encodeURIComponent(pg.password)])
  return run
}

/** What actions/checkout gives each run: main as on origin, nothing else. */
function freshCheckout(work: string): void {
  git(work, 'fetch', '-q', 'origin')
  git(work, 'checkout', '-q', '-f', '-B', 'main', 'origin/main')
  git(work, 'clean', '-q', '-fdx')
}

test('push mode commits the first snapshot to main; then one pull request per change, updated in place', async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgb-schema-git-'))
  const origin = join(dir, 'origin.git')
  const work = join(dir, 'work')
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', origin])
  execFileSync('git', ['clone', '-q', origin, work], { stdio: 'ignore' })
  writeFileSync(join(work, 'README.md'), 'app\n')
  git(work, 'add', 'README.md')
  git(work, '-c', 'user.name=dev', '-c', 'user.email=dev@example.com', 'commit', '-q', '-m', 'readme')
  git(work, 'push', '-q', 'origin', 'main')
  const readme = git(origin, 'rev-parse', 'main')

  // First snapshot, straight onto main.
  const pushed = await runExample(work, { 'schema-commit': 'push' })
  expect(pushed.failure).toBeUndefined()
  expect(pushed.outputs.commit).toMatch(/^[0-9a-f]{40}$/)
  expect(git(origin, 'rev-parse', 'main')).toBe(pushed.outputs.commit)
  expect(git(origin, 'rev-parse', 'main^')).toBe(readme)
  expect(git(origin, 'diff', '--name-only', readme, 'main')).toBe('db/schema.sql')
  expect(git(origin, 'show', 'main:db/schema.sql') + '\n').toBe(readFileSync(join(work, 'db/schema.sql'), 'utf8').replace(/\n+$/, '\n'))
  expect(git(origin, 'log', '-1', '--format=%an <%ae>', 'main')).toBe('github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>')
  const main = pushed.outputs.commit

  // Nothing changed: no commit, no API call.
  freshCheckout(work)
  const same = await runExample(work)
  expect(same.failure).toBeUndefined()
  expect(same.outputs.changed).toBe('false')
  expect(github.requests).toEqual([])

  // A migration: a pull request from main plus one commit, its body naming the change.
  await pg.query('shop', 'ALTER TABLE public.orders ADD COLUMN shipped_at timestamptz')
  freshCheckout(work)
  const first = await runExample(work)
  expect(first.failure).toBeUndefined()
  expect(first.outputs).toMatchObject({ changed: 'true', 'pull-request-url': 'https://github.test/acme/app/pull/1' })
  const branch = 'pg-backup-action/schema'
  expect(github.pulls).toEqual([expect.objectContaining({ number: 1, head: branch, base: 'main', state: 'open' })])
  expect(github.pulls[0].body).toContain('➕ added `public.orders.shipped_at timestamp with time zone`')
  expect(git(origin, 'rev-parse', `${branch}^`)).toBe(main)
  expect(git(origin, 'rev-parse', 'main')).toBe(main)
  expect(git(origin, 'diff', '--name-only', main, branch)).toBe('db/schema.sql')

  // A second change before the merge: the same pull request, its branch replaced (still one commit on main).
  await pg.query('shop', 'DROP POLICY orders_read_open ON public.orders')
  freshCheckout(work)
  const second = await runExample(work)
  expect(second.failure).toBeUndefined()
  expect(second.outputs).toMatchObject({ changed: 'true', 'pull-request-url': 'https://github.test/acme/app/pull/1' })
  expect(github.pulls).toHaveLength(1)
  expect(github.requests.filter(r => r.method === 'PATCH').map(r => r.url)).toEqual(['/repos/acme/app/pulls/1'])
  expect(github.pulls[0].body).toContain('➕ added `public.orders.shipped_at timestamp with time zone`')
  expect(github.pulls[0].body).toContain('➖ removed `public.orders → orders_read_open`')
  expect(git(origin, 'rev-parse', `${branch}^`)).toBe(main)
  expect(git(origin, 'show', `${branch}:db/schema.sql`)).not.toContain('orders_read_open')

  // Run again with the database as the pull request has it: the branch is not touched.
  const tip = git(origin, 'rev-parse', branch)
  freshCheckout(work)
  const again = await runExample(work)
  expect(again.failure).toBeUndefined()
  expect(again.outputs.commit).toBeUndefined()
  expect(git(origin, 'rev-parse', branch)).toBe(tip)
  expect(github.pulls).toHaveLength(1)
  expect(github.requests.every(r => r.auth === `token ${TOKEN}`)).toBe(true)
})

test('a pull request the API refuses fails the run, saying what the job needs; the token stays out of the log', async () => {
  const work = join(dir, 'work')
  freshCheckout(work)
  const wrong = 'ghs_notTheRightToken987654321'
  const run = await runExample(work, { 'github-token': wrong })
  expect(run.failure).toMatch(
    /^The schema was pushed to pg-backup-action\/schema, but the pull request could not be opened or updated: Bad credentials.*pull-requests: write/
  )
  expectNoSecrets([run.log, JSON.stringify(run.outputs)], [wrong])
})
