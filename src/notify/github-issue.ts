import { getOctokit } from '@actions/github'
import { headline, type RunFacts } from './facts.js'

export interface IssueTarget {
  token: string
  /** owner/name, from GITHUB_REPOSITORY. */
  repository: string
  /** GITHUB_API_URL: GitHub Enterprise Server, or a local server in tests. */
  apiUrl: string
  signal: AbortSignal
}

/** The label that finds a set's issue (GitHub allows 50 characters). */
export const issueLabel = (set: string) => `pg-backup:${set}`.slice(0, 50)

/** Which commands are failing, kept in the issue body, so that only their own success closes it. */
const MARKER = /<!-- pg-backup-action failing: ([^>]*) -->/
const marker = (commands: string[]) => `<!-- pg-backup-action failing: ${commands.join(' ')} -->`

/**
 * One open issue per backup set: opened on the first failure, commented on each further one,
 * closed with a comment when the commands that failed succeed again (a passing verify does not
 * close an issue a failing backup opened). Returns what it did, for the log.
 */
export async function syncIssue(facts: RunFacts, set: string, target: IssueTarget): Promise<string> {
  const octokit = getOctokit(target.token, { baseUrl: target.apiUrl })
  const [owner, repo] = target.repository.split('/')
  const request = { signal: target.signal }
  const label = issueLabel(set)
  const open = await octokit.rest.issues.listForRepo({ owner, repo, labels: label, state: 'open', per_page: 20, request })
  const issue = open.data.find(i => !i.pull_request)
  const failing = issue
    ? (MARKER.exec(issue.body ?? '')?.[1]
        .split(' ')
        .filter(Boolean) ?? [])
    : []
  const withMarker = (body: string, commands: string[]) => (MARKER.test(body) ? body.replace(MARKER, marker(commands)) : `${body}\n\n${marker(commands)}`)

  if (facts.outcome === 'failure') {
    if (!issue) {
      // Created up front: GitHub drops unknown labels on new issues for some tokens, and the label is how we find it again.
      await octokit.rest.issues
        .createLabel({ owner, repo, name: label, color: 'd73a4a', description: `pg-backup-action: backups of ${set}`, request })
        .catch((error: { status?: number }) => {
          if (error.status !== 422) throw error // 422: it exists already
        })
      const body = `${details(facts)}\n\nThis issue is closed automatically when the next \`${facts.command}\` of \`${set}\` succeeds.\n\n${marker([facts.command])}`
      const created = await octokit.rest.issues.create({ owner, repo, title: `Backups of ${set} need attention`, body, labels: [label], request })
      return `opened issue #${created.data.number}`
    }
    await octokit.rest.issues.createComment({ owner, repo, issue_number: issue.number, body: details(facts), request })
    if (!failing.includes(facts.command)) {
      await octokit.rest.issues.update({ owner, repo, issue_number: issue.number, body: withMarker(issue.body ?? '', [...failing, facts.command]), request })
    }
    return `commented on issue #${issue.number}`
  }

  if (!issue || !failing.includes(facts.command)) return 'no open issue to update'
  const still = failing.filter(c => c !== facts.command)
  await octokit.rest.issues.createComment({ owner, repo, issue_number: issue.number, body: details(facts), request })
  if (still.length > 0) {
    await octokit.rest.issues.update({ owner, repo, issue_number: issue.number, body: withMarker(issue.body ?? '', still), request })
    return `issue #${issue.number} stays open: ${still.join(', ')} still failing`
  }
  await octokit.rest.issues.update({ owner, repo, issue_number: issue.number, state: 'closed', state_reason: 'completed', request })
  return `closed issue #${issue.number}`
}

function details(facts: RunFacts): string {
  const lines = [`**${headline(facts)}**${facts.backupId ? ` (backup \`${facts.backupId}\`)` : ''}`]
  for (const c of facts.checks.filter(c => c.status !== 'pass')) lines.push(`- ${c.status === 'fail' ? '❌' : '⚠️'} ${c.name}: ${c.detail}`)
  if (facts.error) lines.push('', '```', facts.error, '```')
  if (facts.runUrl) lines.push('', `Run: ${facts.runUrl}`)
  return lines.join('\n')
}
