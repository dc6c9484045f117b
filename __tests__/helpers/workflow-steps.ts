/**
 * Reads a workflow the way GitHub would run it, far enough to drive the action in tests:
 * which action steps run, in which order, and with which `with:` and `env:` once every
 * `${{ … }}` is filled in from a test context. Reusable workflows called as
 * `pg-backup-action/pg-backup-action/.github/workflows/X.yml@ref` (or `./.github/workflows/X.yml`)
 * are followed into this repository's copy, with the caller's `with:`/`secrets:` checked
 * against the called workflow's declarations, as GitHub does when the run starts.
 *
 * Expressions are evaluated by GitHub's own implementation (@actions/expressions, the one its
 * language server uses), with the status functions added; a workflow that uses a function or
 * context this harness cannot provide fails its test instead of silently evaluating wrong.
 * Each workflow file is also checked against GitHub's workflow schema (@actions/workflow-parser).
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { data, Evaluator, Lexer, Parser } from '@actions/expressions'
import type { FunctionDefinition } from '@actions/expressions/funcs/info'
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { parse } from 'yaml'

export type Context = Record<string, unknown>

export interface ActionStep {
  /** Job id; `caller/called` for a job inside a reusable workflow. */
  job: string
  /** Step id, else its name, else `#<index>`. */
  step: string
  /** The workflow file that holds the step. */
  workflow: string
  /** The matrix combination the step ran with, for matrix jobs. */
  matrix?: Record<string, unknown>
  with: Record<string, string>
  env: Record<string, string>
}

/** `uses:` values that mean this action: the published reference or the local checkout. */
export function isActionRef(uses: unknown): boolean {
  return typeof uses === 'string' && (uses === './' || uses === '.' || /^pg-backup-action\/pg-backup-action@[^/]+$/.test(uses))
}

/** The file a job-level `uses:` of this repository's reusable workflows points at, if any. */
export function reusableWorkflowPath(uses: string, root: string): string | undefined {
  const match = /^(?:pg-backup-action\/pg-backup-action\/|\.\/)(\.github\/workflows\/[^@]+\.ya?ml)(?:@.+)?$/.exec(uses)
  return match ? join(root, match[1]) : undefined
}

/** The repository root: the nearest directory above the file that holds action.yml. */
export function repoRoot(from: string): string {
  for (let dir = dirname(resolve(from)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'action.yml'))) return dir
    if (dir === dirname(dir)) return process.cwd()
  }
}

type Workflow = Record<string, unknown>

/** A workflow file as data, after GitHub's parser has checked it against the workflow schema. */
export function loadWorkflow(path: string): Workflow {
  const content = readFileSync(path, 'utf8')
  const checked = parseWorkflow({ name: path, content }, new NoOperationTraceWriter())
  const errors = checked.context.errors.getErrors()
  if (errors.length > 0) throw new Error(`${path}: ${errors.map(e => e.message).join('; ')}`)
  const doc: unknown = parse(content)
  if (!isObject(doc)) throw new Error(`${path}: not a workflow`)
  return doc
}

/**
 * The action steps of a workflow, in the order they run (jobs in `needs` order, a matrix
 * job once per combination), with expressions filled from `context`: `inputs` (declared
 * defaults fill the gaps), `secrets`, `env` (the runner's environment, e.g. what an earlier
 * step exported), `steps`, `needs`, `github`, `vars`, and `matrix` (used instead of
 * expanding the strategy of the workflow's matrix jobs).
 */
export function actionStepsOf(workflowPath: string, context: Record<string, unknown>): ActionStep[] {
  const path = resolve(workflowPath)
  const workflow = loadWorkflow(path)
  const given = isObject(context.inputs) ? context.inputs : {}
  const ctx: Context = {
    ...context,
    inputs: resolveInputs(declaredInputs(workflow), given, relative(process.cwd(), path), false),
    secrets: isObject(context.secrets) ? context.secrets : {},
    env: isObject(context.env) ? context.env : {}
  }
  return stepsOf(workflow, path, ctx, '', isObject(context.matrix) ? context.matrix : undefined)
}

function stepsOf(workflow: Workflow, path: string, ctx: Context, prefix: string, matrix: Record<string, unknown> | undefined): ActionStep[] {
  const root = repoRoot(path)
  const jobs = isObject(workflow.jobs) ? workflow.jobs : {}
  const workflowEnv = evaluateMap(workflow.env, ctx)
  const out: ActionStep[] = []

  for (const jobId of jobOrder(jobs)) {
    const job = jobs[jobId]
    if (!isObject(job)) continue
    const strategy = isObject(job.strategy) ? job.strategy : {}
    const combos = strategy.matrix === undefined ? [undefined] : matrix ? [matrix] : expandMatrix(strategy.matrix, ctx)

    for (const combo of combos) {
      const jobCtx: Context = { ...ctx, matrix: combo ?? {}, env: { ...(ctx.env as object), ...workflowEnv } }
      if (!condition(job.if, jobCtx)) continue

      if (typeof job.uses === 'string') {
        const calledPath = reusableWorkflowPath(job.uses, root)
        if (!calledPath) continue // someone else's workflow: not ours to follow
        if (!existsSync(calledPath)) throw new Error(`${jobId}: ${job.uses} names ${relative(root, calledPath)}, which does not exist`)
        const called = loadWorkflow(calledPath)
        const where = `${relative(root, path)} job ${jobId} → ${relative(root, calledPath)}`
        const withs = Object.fromEntries(Object.entries(isObject(job.with) ? job.with : {}).map(([k, v]) => [k, evaluateTemplate(v, jobCtx)]))
        const callOn = isObject(called.on) && isObject(called.on.workflow_call) ? called.on.workflow_call : undefined
        if (!callOn) throw new Error(`${where}: the called workflow has no on.workflow_call`)
        const inputs = resolveInputs(isObject(callOn.inputs) ? callOn.inputs : {}, withs, where, true)
        const secrets = resolveSecrets(callOn.secrets, job.secrets, jobCtx, where)
        const childCtx: Context = { ...ctx, inputs, secrets, matrix: {}, needs: {} }
        out.push(...stepsOf(called, calledPath, childCtx, `${prefix}${jobId}/`, undefined))
        continue
      }

      const jobEnv = evaluateMap(job.env, jobCtx)
      const envCtx = { ...(jobCtx.env as object), ...jobEnv }
      const steps = Array.isArray(job.steps) ? job.steps : []
      steps.forEach((step: unknown, index: number) => {
        if (!isObject(step) || !isActionRef(step.uses)) return
        const stepCtx: Context = { ...jobCtx, env: envCtx }
        if (!condition(step.if, stepCtx)) return
        const stepEnv = evaluateMap(step.env, stepCtx)
        const withCtx: Context = { ...stepCtx, env: { ...envCtx, ...stepEnv } }
        out.push({
          job: `${prefix}${jobId}`,
          step: String(step.id ?? step.name ?? `#${index}`),
          workflow: path,
          ...(combo ? { matrix: combo } : {}),
          with: evaluateMap(step.with, withCtx),
          env: { ...workflowEnv, ...jobEnv, ...stepEnv }
        })
      })
    }
  }
  return out
}

/** INPUT_* variables as the runner would set them for a step: its `with:` over action.yml defaults. */
export function actionInputEnv(step: Pick<ActionStep, 'with'>, actionYml = join(repoRoot(resolve('action.yml')), 'action.yml')): Record<string, string> {
  const action: unknown = parse(readFileSync(actionYml, 'utf8'))
  const inputs = isObject(action) && isObject(action.inputs) ? action.inputs : {}
  const env: Record<string, string> = {}
  for (const [name, spec] of Object.entries(inputs)) {
    const value = step.with[name] ?? (isObject(spec) && spec.default !== undefined ? String(spec.default) : '')
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }
  for (const name of Object.keys(step.with)) {
    if (!(name in inputs)) throw new Error(`with: ${name} is not an input of ${actionYml}`)
  }
  return env
}

// ---------------------------------------------------------------------------------------
// Workflow structure

function declaredInputs(workflow: Workflow): Record<string, unknown> {
  const on = isObject(workflow.on) ? workflow.on : {}
  const call = isObject(on.workflow_call) && isObject(on.workflow_call.inputs) ? on.workflow_call.inputs : {}
  const dispatch = isObject(on.workflow_dispatch) && isObject(on.workflow_dispatch.inputs) ? on.workflow_dispatch.inputs : {}
  return { ...dispatch, ...call }
}

/** Declared inputs with their defaults and types applied; strict: as for a workflow_call. */
function resolveInputs(specs: Record<string, unknown>, given: Record<string, unknown>, where: string, strict: boolean): Record<string, unknown> {
  const inputs: Record<string, unknown> = strict ? {} : { ...given }
  if (strict) {
    for (const name of Object.keys(given)) {
      if (!(name in specs)) throw new Error(`${where}: with: ${name} is not a declared input`)
    }
  }
  for (const [name, raw] of Object.entries(specs)) {
    const spec = isObject(raw) ? raw : {}
    let value = given[name]
    if (value === undefined || value === null) {
      if (spec.required === true && spec.default === undefined && strict) throw new Error(`${where}: required input ${name} is not given`)
      value = spec.default
    }
    inputs[name] = coerce(value, String(spec.type ?? 'string'), `${where}: input ${name}`)
  }
  return inputs
}

function coerce(value: unknown, type: string, where: string): unknown {
  if (type === 'boolean') {
    if (value === undefined || value === null) return false
    if (typeof value === 'boolean') return value
    if (value === 'true' || value === 'false') return value === 'true'
    throw new Error(`${where}: ${JSON.stringify(value)} is not a boolean`)
  }
  if (type === 'number') {
    if (value === undefined || value === null || value === '') return 0
    const n = Number(value)
    if (Number.isNaN(n)) throw new Error(`${where}: ${JSON.stringify(value)} is not a number`)
    return n
  }
  return value === undefined || value === null ? '' : toText(value)
}

function resolveSecrets(specs: unknown, given: unknown, ctx: Context, where: string): Record<string, unknown> {
  const callerSecrets = isObject(ctx.secrets) ? ctx.secrets : {}
  const declared = isObject(specs) ? specs : {}
  const secrets: Record<string, unknown> = {}
  if (given === 'inherit') {
    Object.assign(secrets, callerSecrets)
  } else {
    for (const [name, value] of Object.entries(isObject(given) ? given : {})) {
      if (!(name in declared)) throw new Error(`${where}: secrets: ${name} is not a declared secret`)
      secrets[name] = evaluateTemplate(value, ctx)
    }
  }
  for (const [name, spec] of Object.entries(declared)) {
    if (isObject(spec) && spec.required === true && !(name in secrets)) throw new Error(`${where}: required secret ${name} is not passed`)
  }
  if (callerSecrets.GITHUB_TOKEN !== undefined) secrets.GITHUB_TOKEN = callerSecrets.GITHUB_TOKEN
  return secrets
}

/** Job ids in an order that respects `needs`, otherwise in file order. */
function jobOrder(jobs: Record<string, unknown>): string[] {
  const ids = Object.keys(jobs)
  const done = new Set<string>()
  const order: string[] = []
  while (order.length < ids.length) {
    const ready = ids.find(id => !done.has(id) && needsOf(jobs[id]).every(n => done.has(n)))
    if (!ready) throw new Error(`jobs ${ids.filter(id => !done.has(id)).join(', ')} need jobs that never run first`)
    done.add(ready)
    order.push(ready)
  }
  return order
}

function needsOf(job: unknown): string[] {
  if (!isObject(job) || job.needs === undefined) return []
  return Array.isArray(job.needs) ? job.needs.map(String) : [String(job.needs)]
}

function expandMatrix(raw: unknown, ctx: Context): Array<Record<string, unknown>> {
  const matrix = evaluateTemplate(raw, ctx)
  if (!isObject(matrix)) throw new Error('strategy.matrix is not an object')
  if ('include' in matrix || 'exclude' in matrix) throw new Error('matrix include/exclude is not supported by actionStepsOf')
  let combos: Array<Record<string, unknown>> = [{}]
  for (const [key, rawValues] of Object.entries(matrix)) {
    const values = evaluateTemplate(rawValues, ctx)
    if (!Array.isArray(values) || values.length === 0) throw new Error(`matrix ${key} must be a non-empty array, got ${JSON.stringify(values)}`)
    combos = combos.flatMap(c => values.map(v => ({ ...c, [key]: v })))
  }
  return combos
}

function evaluateMap(map: unknown, ctx: Context): Record<string, string> {
  if (!isObject(map)) return {}
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, toText(evaluateTemplate(v, ctx))]))
}

/** An `if:`; as on GitHub, `${{ }}` is optional there. */
function condition(raw: unknown, ctx: Context): boolean {
  if (raw === undefined || raw === null) return true
  if (typeof raw === 'boolean') return raw
  const text = String(raw).trim()
  return truthy(text.includes('${{') ? evaluateTemplate(text, ctx) : evaluateExpression(text, ctx))
}

// ---------------------------------------------------------------------------------------
// Expressions: GitHub's own lexer, parser and evaluator (@actions/expressions); only the
// template splitting, the status functions and the conversion of values are glue.

const CONTEXTS = ['inputs', 'secrets', 'matrix', 'env', 'steps', 'needs', 'github', 'vars', 'job', 'runner', 'strategy']

/** The status functions: the steps these tests drive run when everything before them succeeded. */
const STATUS_FUNCTIONS: FunctionDefinition[] = [
  { name: 'success', minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(true) },
  { name: 'always', minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(true) },
  { name: 'failure', minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(false) },
  { name: 'cancelled', minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(false) }
]

/**
 * A YAML value with `${{ … }}` filled in. A value that is exactly one expression keeps the
 * expression's type (an array for a matrix, say); text around expressions makes a string.
 */
export function evaluateTemplate(value: unknown, ctx: Context): unknown {
  if (typeof value !== 'string' || !value.includes('${{')) return value
  const parts: Array<{ text: string } | { expr: string }> = []
  let i = 0
  while (i < value.length) {
    const start = value.indexOf('${{', i)
    if (start < 0) {
      parts.push({ text: value.slice(i) })
      break
    }
    if (start > i) parts.push({ text: value.slice(i, start) })
    const end = expressionEnd(value, start + 3)
    parts.push({ expr: value.slice(start + 3, end) })
    i = end + 2
  }
  if (parts.length === 1 && 'expr' in parts[0]) return evaluateExpression(parts[0].expr, ctx)
  return parts.map(p => ('text' in p ? p.text : toText(evaluateExpression(p.expr, ctx)))).join('')
}

/** Index of the `}}` closing an expression, skipping string literals. */
function expressionEnd(text: string, from: number): number {
  let inString = false
  for (let i = from; i < text.length; i++) {
    if (text[i] === "'")
      inString = !inString // '' inside a literal toggles twice: still right
    else if (!inString && text.startsWith('}}', i)) return i
  }
  throw new Error(`unterminated expression in ${JSON.stringify(text)}`)
}

/** Evaluates one expression (without `${{ }}`) with GitHub's evaluator; returns plain JSON values. */
export function evaluateExpression(src: string, ctx: Context): unknown {
  const lexed = new Lexer(src.trim()).lex()
  const tree = new Parser(lexed.tokens, CONTEXTS, STATUS_FUNCTIONS).parse()
  const contexts = JSON.parse(JSON.stringify(Object.fromEntries(CONTEXTS.map(name => [name, ctx[name] ?? {}]))), data.reviver) as data.Dictionary
  const result = new Evaluator(tree, contexts, new Map(STATUS_FUNCTIONS.map(f => [f.name.toLowerCase(), f]))).evaluate()
  return JSON.parse(JSON.stringify(result, data.replacer)) as unknown
}

export function truthy(v: unknown): boolean {
  return !(v === null || v === undefined || v === false || v === 0 || v === '' || Number.isNaN(v))
}

/** How GitHub turns a value into text: null → '', objects as JSON. */
export function toText(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(v, null, 2)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
