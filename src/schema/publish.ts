import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { getOctokit } from '@actions/github'
import { BackupError, errorMessage } from '../errors.js'
import type { Secrets } from '../secrets.js'
import { makeTempDir } from '../tempdir.js'

export interface SchemaCommit {
  mode: 'pull-request' | 'push'
  /** Branch to commit to: the pull request's head, or the branch pushed to (default: the checked-out one). */
  branch?: string
  /** The repository's working tree and the file inside it. */
  workspace: string
  file: string
  content: string
  message: string
  title: string
  body: string
  token: string
  env: NodeJS.ProcessEnv
  secrets: Secrets
}

export interface SchemaCommitResult {
  branch: string
  /** The commit now at the branch's tip (undefined when the branch already held this file). */
  commit?: string
  pullRequest?: { number: number; url: string; created: boolean }
}

const BOT = { name: 'github-actions[bot]', email: '41898282+github-actions[bot]@users.noreply.github.com' }
export const DEFAULT_SCHEMA_BRANCH = 'pg-backup-action/schema'

/**
 * Commits the schema file without touching the working tree or the index (git plumbing in a
 * scratch index), then pushes it with the credentials actions/checkout left in the clone.
 *
 * pull-request: the head branch is always the checked-out commit plus one commit with the new
 * file, force-pushed, so the one open pull request shows exactly "base → database now";
 * a second change updates the same pull request. push: one commit on top of the branch.
 */
export async function commitSchema(request: SchemaCommit): Promise<SchemaCommitResult> {
  const git = gitIn(request.workspace, request.secrets)
  const root = (await git(['rev-parse', '--show-toplevel'])).trim()
  const path = relative(root, join(request.workspace, request.file)).split('\\').join('/')
  const base = await checkedOutBranch(git, request.env)
  const branch = request.branch || (request.mode === 'pull-request' ? DEFAULT_SCHEMA_BRANCH : base)
  if (request.mode === 'pull-request' && branch === base) {
    throw new BackupError(`Input "schema-branch": the pull request needs a branch other than the checked-out ${base}`)
  }
  const remoteTip = await fetchBranch(git, branch)
  const parent = request.mode === 'push' && remoteTip ? remoteTip : (await git(['rev-parse', 'HEAD'])).trim()
  const tree = await treeWith(git, parent, path, request.content)

  let commit: string | undefined
  if (!(remoteTip && (await git(['rev-parse', `${remoteTip}^{tree}`])).trim() === tree)) {
    const env = { GIT_AUTHOR_NAME: BOT.name, GIT_AUTHOR_EMAIL: BOT.email, GIT_COMMITTER_NAME: BOT.name, GIT_COMMITTER_EMAIL: BOT.email }
    commit = (await git(['commit-tree', tree, '-p', parent, '-m', request.message], { env })).trim()
    // The pull request's branch belongs to this action: replaced whole. A pushed branch only moves forward.
    await git(['push', ...(request.mode === 'pull-request' ? ['--force'] : []), 'origin', `${commit}:refs/heads/${branch}`])
  }
  if (request.mode === 'push') return { branch, commit }
  return { branch, commit, pullRequest: await openOrUpdatePullRequest(request, branch, base) }
}

type Git = (args: string[], options?: { env?: Record<string, string>; input?: string }) => Promise<string>

function gitIn(cwd: string, secrets: Secrets): Git {
  return (args, options = {}) =>
    new Promise((resolve, reject) => {
      const child = execFile(
        'git',
        args,
        { cwd, env: { ...process.env, ...options.env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) reject(new BackupError(secrets.redact(`git ${args[0]} failed: ${stderr.trim() || errorMessage(error)}`)))
          else resolve(stdout)
        }
      )
      // git reports its own failures; a program that never reads stdin must not crash us with EPIPE.
      child.stdin?.on('error', () => undefined)
      child.stdin?.end(options.input)
    })
}

/** The branch the workflow runs on: GITHUB_REF for push/schedule/dispatch events, else what is checked out. */
async function checkedOutBranch(git: Git, env: NodeJS.ProcessEnv): Promise<string> {
  if (env.GITHUB_REF?.startsWith('refs/heads/')) return env.GITHUB_REF.slice('refs/heads/'.length)
  try {
    return (await git(['symbolic-ref', '--short', 'HEAD'])).trim()
  } catch {
    throw new BackupError('command: schema needs a branch checked out to commit on (the workspace is at a detached HEAD)')
  }
}

/** The branch's tip on origin, fetched, or undefined when it does not exist yet. */
async function fetchBranch(git: Git, branch: string): Promise<string | undefined> {
  const listed = (await git(['ls-remote', '--heads', 'origin', `refs/heads/${branch}`])).trim()
  if (!listed) return undefined
  // A shallow clone (actions/checkout's default) stays shallow: only the tip is needed.
  const shallow = (await git(['rev-parse', '--is-shallow-repository'])).trim() === 'true'
  await git(['fetch', '--no-tags', ...(shallow ? ['--depth=1'] : []), 'origin', `refs/heads/${branch}`])
  return listed.split(/\s/)[0]
}

/** The tree of `parent` with one file replaced, built in a scratch index. */
async function treeWith(git: Git, parent: string, path: string, content: string): Promise<string> {
  const dir = await makeTempDir('schema-index')
  try {
    const env = { GIT_INDEX_FILE: join(dir, 'index') }
    await git(['read-tree', parent], { env })
    const blob = (await git(['hash-object', '-w', '--stdin'], { input: content })).trim()
    await git(['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], { env })
    return (await git(['write-tree'], { env })).trim()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** One pull request per head branch: found open and updated, else opened. */
async function openOrUpdatePullRequest(request: SchemaCommit, branch: string, base: string): Promise<SchemaCommitResult['pullRequest']> {
  const [owner, repo] = (request.env.GITHUB_REPOSITORY ?? '').split('/')
  if (!owner || !repo) throw new BackupError('command: schema with schema-commit: pull-request needs GITHUB_REPOSITORY (owner/name)')
  const octokit = getOctokit(request.token, { baseUrl: request.env.GITHUB_API_URL || 'https://api.github.com' })
  try {
    const { data: open } = await octokit.rest.pulls.list({ owner, repo, state: 'open', head: `${owner}:${branch}`, base })
    if (open.length > 0) {
      const { data } = await octokit.rest.pulls.update({ owner, repo, pull_number: open[0].number, title: request.title, body: request.body })
      return { number: data.number, url: data.html_url, created: false }
    }
    const { data } = await octokit.rest.pulls.create({ owner, repo, head: branch, base, title: request.title, body: request.body })
    return { number: data.number, url: data.html_url, created: true }
  } catch (error) {
    throw new BackupError(
      request.secrets.redact(
        `The schema was pushed to ${branch}, but the pull request could not be opened or updated: ${errorMessage(error)} ` +
          '(the job needs permissions contents: write and pull-requests: write, and "Allow GitHub Actions to create pull requests" in the repository settings)'
      )
    )
  }
}
