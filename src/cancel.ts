import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Cancellation. GitHub cancels a job with SIGINT, then SIGTERM about 7.5 s later, then
 * SIGKILL; a terminal sends SIGINT on Ctrl-C. Both hosts call handleSignals(), and on
 * the first signal everything the run has open is stopped and removed within seconds.
 *
 * REGISTER HERE whatever would outlive the process or be left behind if it died now:
 *   - a child process:   spawnTracked(...) instead of spawn (it also kills its children)
 *   - an upload, a database session, any other work:  const release = onCancel(() => stop it)
 *   - a temporary or partial file or folder:          const release = removeOnCancel(path)
 * and call release() once the thing is gone. Nothing new starts after a cancellation
 * (spawnTracked and throwIfCancelled throw CancelledError).
 */

export class CancelledError extends Error {
  constructor(readonly signal: string) {
    super(`cancelled (${signal})`)
    this.name = 'CancelledError'
  }
}

type Cleanup = () => unknown
const stops = new Set<Cleanup>()
const removals = new Set<string>()
const controller = new AbortController()
let cancelling: Promise<void> | undefined

/** Aborted on the first SIGINT/SIGTERM; its reason is the CancelledError. */
export const cancelSignal: AbortSignal = controller.signal

/** Runs `stop` on cancellation (before files are removed); the returned function unregisters it. */
export function onCancel(stop: Cleanup): () => void {
  stops.add(stop)
  return () => void stops.delete(stop)
}

/** Removes `path` (recursively) on cancellation, once every process and upload has stopped. */
export function removeOnCancel(path: string): () => void {
  removals.add(path)
  return () => void removals.delete(path)
}

export function throwIfCancelled(): void {
  if (cancelSignal.aborted) throw cancelSignal.reason as CancelledError
}

/** Upper bound for one step of stopping, so the whole cancellation fits well before SIGKILL. */
const STOP_TIMEOUT_MS = 3000

/**
 * Stops everything registered, then removes every registered path. Idempotent: later
 * calls (SIGTERM after SIGINT) return the first cancellation's promise.
 */
export function cancel(signal: string): Promise<void> {
  if (cancelling) return cancelling
  cancelling = stopAndRemove()
  controller.abort(new CancelledError(signal))
  return cancelling
}

async function stopAndRemove(): Promise<void> {
  await null // after the abort: nothing new starts from here on
  await Promise.race([Promise.allSettled([...stops].map(async stop => stop())), sleep(STOP_TIMEOUT_MS)])
  await Promise.allSettled([...removals].map(path => rm(path, { recursive: true, force: true })))
}

/** Resolves once a cancellation has stopped and removed everything; stays pending without one (or once `until` aborts). */
export function whenCancelled(until: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const done = () => void cancelling?.then(resolve)
    if (cancelSignal.aborted) return done()
    cancelSignal.addEventListener('abort', done, { once: true, signal: until })
  })
}

/** Called once by each host (the action, the CLI): SIGINT and SIGTERM cancel the run. */
export function handleSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void cancel(signal))
}

/**
 * spawn() for every child process: the child leads its own process group (so its own
 * children, e.g. pg_restore's workers or a wrapper script's programs, are stopped with
 * it) and is stopped on cancellation: SIGTERM first (pg_dump, pg_restore and psql then
 * cancel their server queries), SIGKILL if it is still there after a grace period.
 */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  throwIfCancelled()
  const child = spawn(command, args, { ...options, detached: true })
  const exited = new Promise<void>(resolve => child.once('close', () => resolve()))
  const group = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal)
    } catch {
      // The group is gone already.
    }
  }
  const release = onCancel(async () => {
    group('SIGTERM')
    const timer = setTimeout(() => group('SIGKILL'), STOP_TIMEOUT_MS - 1000)
    await exited
    clearTimeout(timer)
    // The leader is gone; anything it left in its group goes too.
    group('SIGKILL')
  })
  child.once('error', release)
  void exited.then(release)
  return child
}
