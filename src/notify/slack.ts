import { formatBytes, formatSeconds } from '../report/format.js'
import { headline, type RunFacts } from './facts.js'

/** Slack's limit for a section's text is 3000 characters; errors are cut well below it. */
const MAX_ERROR = 2500

const ICON = { pass: '✅', warn: '⚠️', fail: '❌' }

/** Slack's mrkdwn treats &, < and > as markup: escape them in everything we did not write. */
const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * An incoming-webhook message: `text` is the fallback every client shows (notifications,
 * old clients, screen readers); `blocks` lay the same facts out.
 */
export function slackMessage(facts: RunFacts): { text: string; blocks: object[] } {
  const status = facts.outcome === 'failure' ? 'fail' : facts.checks.some(c => c.status === 'warn') ? 'warn' : 'pass'
  const text = `${ICON[status]} pg-backup: ${headline(facts)}${facts.error ? `: ${facts.error.slice(0, MAX_ERROR)}` : ''}`
  const field = (label: string, value: string | undefined) => (value === undefined ? [] : [{ type: 'mrkdwn', text: `*${label}*\n${esc(value)}` }])
  const fields = [
    ...field('Command', facts.command),
    ...field('Set', facts.set),
    ...field('Kind', facts.kind),
    ...field('Backup', facts.backupId),
    ...field('Outcome', facts.outcome === 'failure' ? 'failed' : status === 'warn' ? 'passed with warnings' : 'succeeded'),
    ...field('Size', facts.sizeBytes === undefined ? undefined : formatBytes(facts.sizeBytes)),
    ...field('Duration', formatSeconds(facts.durationSeconds)),
    ...field('Verify', facts.verified === undefined ? undefined : facts.verified ? 'passed' : 'not verified'),
    ...field('Drill', facts.drillPassed === undefined ? undefined : facts.drillPassed ? 'passed' : 'FAILED')
  ].slice(0, 10) // Slack takes at most 10 fields in a section
  const blocks: object[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${ICON[status]} ${esc(headline(facts))}*` } },
    { type: 'section', fields }
  ]
  const notable = facts.checks.filter(c => c.status !== 'pass')
  if (notable.length > 0) {
    const lines = notable.map(c => `${ICON[c.status]} *${esc(c.name)}*: ${esc(c.detail)}`).join('\n')
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: lines.slice(0, MAX_ERROR) } })
  }
  if (facts.error) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${esc(facts.error.slice(0, MAX_ERROR))}\`\`\`` } })
  if (facts.runUrl) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `<${facts.runUrl}|View the run>${facts.repository ? ` in ${esc(facts.repository)}` : ''}` }]
    })
  }
  return { text, blocks }
}
