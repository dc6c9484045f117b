/**
 * Runs the action two ways: in-process through execute() with a recording Host,
 * and as the runner does (node dist/index.js, INPUT_* env, GITHUB_OUTPUT/GITHUB_STEP_SUMMARY files).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execute } from '../../src/execute.js'
import type { Context } from '../../src/commands/context.js'
import type { Host } from '../../src/host.js'
import { readSettings, type Settings } from '../../src/inputs.js'
import { Secrets } from '../../src/secrets.js'
import { openStorages } from '../../src/storage/index.js'
import type { Storage } from '../../src/storage/storage.js'

export interface ActionRun {
  failure?: string
  outputs: Record<string, string>
  /** Everything the run printed (logs, warnings, the failure, the summary). */
  log: string
  summary: string
  masked: string[]
}

/** Waits of at most 20 ms, so that tests of polling and retries need not sit through real intervals. */
export const fastSleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, Math.min(ms, 20)))

export async function runAction(
  inputs: Record<string, string>,
  env: NodeJS.ProcessEnv = {},
  now?: () => Date,
  sleep?: (ms: number) => Promise<void>
): Promise<ActionRun> {
  const run: ActionRun = { outputs: {}, log: '', summary: '', masked: [] }
  const host: Host = {
    input: name => inputs[name] ?? '',
    output: (name, value) => {
      run.outputs[name] = String(value)
    },
    secret: value => void run.masked.push(value),
    info: message => void (run.log += `${message}\n`),
    warning: message => void (run.log += `warning: ${message}\n`),
    debug: message => void (run.log += `debug: ${message}\n`),
    summary: async markdown => void (run.summary += markdown),
    env: { ...process.env, ...env }
  }
  run.failure = await execute(host, now, sleep)
  run.log += run.summary + (run.failure ?? '')
  return run
}

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/index.js')

export interface DistRun {
  code: number | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
}

/** The built action as the runner starts it. */
export async function runDist(inputs: Record<string, string>, env: NodeJS.ProcessEnv = {}): Promise<DistRun> {
  const dir = mkdtempSync(join(tmpdir(), 'pgb-runner-'))
  const outputFile = join(dir, 'output')
  const summaryFile = join(dir, 'summary')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const inputEnv = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v]))
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...env,
    ...inputEnv,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_ACTIONS: 'true',
    RUNNER_TEMP: dir
  }
  delete childEnv.NODE_OPTIONS
  const child = spawn(process.execPath, [DIST], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => (stdout += d))
  child.stderr.on('data', d => (stderr += d))
  const code = await new Promise<number | null>(res => child.on('close', res))
  return { code, stdout, stderr, outputs: parseOutputFile(readFileSync(outputFile, 'utf8')), summary: readFileSync(summaryFile, 'utf8') }
}

/** GITHUB_OUTPUT holds `name<<DELIMITER\nvalue\nDELIMITER` blocks. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (!match) continue
    const value: string[] = []
    while (++i < lines.length && lines[i] !== match[2]) value.push(lines[i])
    outputs[match[1]] = value.join('\n')
  }
  return outputs
}

/** Fails the test if any secret appears in any of the texts. */
export function expectNoSecrets(texts: string[], secrets: string[]): void {
  for (const text of texts) {
    for (const secret of secrets) {
      if (text.includes(secret)) throw new Error(`secret leaked: ${JSON.stringify(secret)} found in output:\n${text.slice(0, 2000)}`)
    }
  }
}

/** A command Context built from inputs, for tests that call a command directly. */
export function testContext(inputs: Record<string, string>, options: { storages?: (settings: Settings) => Storage[]; now?: () => Date } = {}) {
  const summaries: string[] = []
  const host: Host = {
    input: name => inputs[name] ?? '',
    output: () => undefined,
    secret: () => undefined,
    info: () => undefined,
    warning: () => undefined,
    debug: () => undefined,
    summary: async markdown => void summaries.push(markdown),
    env: process.env
  }
  const settings = readSettings(host)
  const storages = options.storages?.(settings) ?? openStorages(settings, process.env)
  const ctx: Context = { settings, host, secrets: new Secrets(), storages, now: options.now ?? (() => new Date()), sleep: fastSleep }
  return { ctx, summaries }
}
