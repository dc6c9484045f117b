import type { ChildProcess } from 'node:child_process'
import { Readable, type Writable } from 'node:stream'
import { spawnTracked } from '../cancel.js'
import { BackupError } from '../errors.js'
import { childEnv } from '../postgres/connection.js'
import type { Secrets } from '../secrets.js'

/** One external program in a pipe chain. */
export interface Stage {
  name: string
  command: string
  args: string[]
  env?: Record<string, string>
  /** Written to the program's fd 3 and closed (gpg --passphrase-fd 3): secrets stay out of argv and env. */
  fd3?: string
  /** Hint added to the error when the program is missing. */
  install?: string
  /** Turns a known stderr into a plainer message (e.g. gpg's "Bad session key"). */
  explain?: (stderr: string) => string | undefined
}

export interface Chain {
  /** stdout of the last stage (empty when it writes to `outputFd`). */
  output: Readable
  /** stdin of the first stage, when `input: 'pipe'`. */
  input?: Writable
  /** Resolves when every stage exited 0; rejects with the root cause otherwise. */
  done: Promise<void>
  /** Stops every stage (used when the consumer fails). */
  kill(): void
}

interface Exit {
  stage: Stage
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
  spawnError?: Error
  killedByUs: boolean
}

const STDERR_TAIL = 8192

/**
 * Starts programs connected stdout→stdin through kernel pipes, so the bytes never
 * pass through Node between them. Every stage's exit status is checked; when one
 * fails the others are stopped and the error names the stage that failed first.
 */
export function startChain(stages: Stage[], secrets: Secrets, options: { input?: 'pipe' | 'ignore'; outputFd?: number } = {}): Chain {
  const children: ChildProcess[] = []
  const exits: Array<Promise<Exit>> = []
  let killing = false
  const kill = (): void => {
    killing = true
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  }

  stages.forEach((stage, index) => {
    const previous = children[index - 1]
    const stdin = index === 0 ? (options.input ?? 'ignore') : (previous.stdout as Readable)
    const stdout = index === stages.length - 1 && options.outputFd !== undefined ? options.outputFd : 'pipe'
    const child = spawnTracked(stage.command, stage.args, {
      stdio: [stdin, stdout, 'pipe', ...(stage.fd3 !== undefined ? (['pipe'] as const) : [])],
      env: childEnv(stage.env)
    })
    // The child now holds its own copy of the pipe; closing ours lets EPIPE reach the writer if the reader dies.
    if (previous) (previous.stdout as Readable).destroy()
    if (stage.fd3 !== undefined) {
      const fd3 = child.stdio[3] as Writable
      fd3.on('error', () => undefined)
      fd3.end(stage.fd3)
    }
    child.stdin?.on('error', () => undefined)
    let stderr = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL)
    })
    children.push(child)
    exits.push(
      new Promise<Exit>(resolve => {
        let spawnError: Error | undefined
        child.on('error', error => {
          spawnError = error
        })
        child.on('close', (code, signal) => {
          const exit = { stage, code, signal, stderr, spawnError, killedByUs: killing && signal === 'SIGTERM' }
          if (failed(exit)) kill()
          resolve(exit)
        })
      })
    )
  })

  const done = Promise.all(exits).then(results => {
    const failures = results.filter(failed)
    if (failures.length === 0) return
    // The root cause: not a stage we stopped, not one that merely lost its reader (SIGPIPE),
    // and the furthest upstream, since a stage fed nothing (or garbage) fails after its writer.
    const rootCause =
      failures.filter(f => !f.killedByUs && f.signal !== 'SIGPIPE').sort((a, b) => stages.indexOf(a.stage) - stages.indexOf(b.stage))[0] ??
      failures.filter(f => !f.killedByUs)[0] ??
      failures[0]
    throw new BackupError(secrets.redact(describeFailure(rootCause)))
  })
  done.catch(() => undefined)

  const last = children[children.length - 1]
  return { output: last.stdout ?? Readable.from([]), input: children[0].stdin ?? undefined, done, kill }
}

function failed(exit: Exit): boolean {
  return exit.spawnError !== undefined || exit.code !== 0
}

function describeFailure(exit: Exit): string {
  const { stage } = exit
  if (exit.spawnError) {
    const missing = (exit.spawnError as NodeJS.ErrnoException).code === 'ENOENT'
    return missing
      ? `${stage.name} was not found (${stage.command})${stage.install ? `: ${stage.install}` : ''}`
      : `${stage.name} could not start: ${exit.spawnError.message}`
  }
  const plain = stage.explain?.(exit.stderr)
  if (plain) return plain
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
  const detail = exit.stderr.trim()
  return `${stage.name} failed: it ${how}${detail ? `:\n${detail}` : ''}`
}
