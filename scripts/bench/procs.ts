/**
 * Runs one command for the benchmark: wall time, plus the peak RSS (VmHWM) of every
 * process in its tree, sampled from /proc every ~50 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

export interface ProcPeak {
  pid: number
  name: string
  kb: number
  /** Seconds after the start when the process was first and last seen: a timeline of the stages. */
  firstSeen: number
  lastSeen: number
}

export interface Measurement {
  seconds: number
  code: number | null
  stdout: string
  /** The last 64 KiB of stderr, for error messages. */
  stderr: string
  /** The single process with the largest VmHWM seen anywhere in the tree. */
  largest?: ProcPeak
  /** The process we started itself (the Node CLI for the action's cases). */
  root?: ProcPeak
  /** Every process seen, largest first. */
  peaks: ProcPeak[]
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv
  /** Where stdout goes: captured ('pipe', the default) or an open file descriptor (e.g. /dev/null). */
  stdout?: 'pipe' | number
  intervalMs?: number
}

const STDERR_TAIL = 64 * 1024

// Started and not yet exited: killed (by process group) when the benchmark is interrupted.
const running = new Set<ChildProcess>()

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return fallback // the process exited between listing and reading
  }
}

/** `root` and all its descendants, from /proc/<pid>/task/<tid>/children (any thread may fork). */
export function processTree(root: number): number[] {
  const pids = [root]
  for (let i = 0; i < pids.length; i++) {
    let tids: string[]
    try {
      tids = readdirSync(`/proc/${pids[i]}/task`)
    } catch {
      continue
    }
    for (const tid of tids) {
      for (const child of readOr(`/proc/${pids[i]}/task/${tid}/children`).split(' ')) {
        if (child.trim()) pids.push(Number(child))
      }
    }
  }
  return pids
}

function peakOf(pid: number, at: number): ProcPeak | undefined {
  const status = readOr(`/proc/${pid}/status`)
  const name = /^Name:\s*(.+)$/m.exec(status)?.[1]
  const kb = /^VmHWM:\s*(\d+) kB$/m.exec(status)?.[1]
  return name && kb ? { pid, name, kb: Number(kb), firstSeen: at, lastSeen: at } : undefined
}

/**
 * Keeps the largest VmHWM seen per process. Keyed by pid *and* name: between fork and
 * exec a child still carries its parent's name and memory, and exec starts a fresh count.
 */
class PeakTracker {
  private readonly peaks = new Map<string, ProcPeak>()
  private readonly started = performance.now()

  sample(root: number): void {
    const at = (performance.now() - this.started) / 1000
    for (const pid of processTree(root)) {
      const peak = peakOf(pid, at)
      if (!peak) continue
      const key = `${pid}:${peak.name}`
      const seen = this.peaks.get(key)
      this.peaks.set(key, seen ? { ...seen, kb: Math.max(seen.kb, peak.kb), lastSeen: at } : peak)
    }
  }

  all(): ProcPeak[] {
    return [...this.peaks.values()].sort((a, b) => b.kb - a.kb)
  }
}

/**
 * Runs `command` in its own process group and waits for it. VmHWM is monotonic, so a
 * sample misses at most the growth of a process's last ~50 ms.
 */
export async function measure(command: string, args: string[], options: MeasureOptions = {}): Promise<Measurement> {
  const started = performance.now()
  const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'], detached: true })
  running.add(child)
  const tracker = new PeakTracker()
  const rootPid = child.pid
  if (rootPid !== undefined) tracker.sample(rootPid)
  const timer = setInterval(() => rootPid !== undefined && tracker.sample(rootPid), options.intervalMs ?? 50)

  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-STDERR_TAIL)))

  let ended = 0
  child.on('exit', () => (ended = performance.now()))
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', resolve)
    })
    // On a tie the root wins: a child sampled between fork and exec carries the root's memory under the root's name.
    const peaks = tracker.all().sort((a, b) => b.kb - a.kb || Number(b.pid === rootPid) - Number(a.pid === rootPid))
    return {
      seconds: ((ended || performance.now()) - started) / 1000,
      code,
      stdout,
      stderr,
      largest: peaks[0],
      root: peaks.find(p => p.pid === rootPid),
      peaks
    }
  } finally {
    clearInterval(timer)
    running.delete(child)
  }
}

/** Stops whatever measure() is running (its whole process group): for an interrupted benchmark. */
export function killRunning(): void {
  for (const child of running) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
}
