/** A problem with what the user asked for: reported before any work starts. */
export class InputError extends Error {
  constructor(
    readonly input: string,
    problem: string
  ) {
    super(`Input "${input}": ${problem}`)
    this.name = 'InputError'
  }
}

/** A failure the user can act on; its message is shown as is. */
export class BackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'BackupError'
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** A failure that still has outputs to set, e.g. monitor's report of the checks that failed. */
export class FailureWithOutputs extends BackupError {
  constructor(
    message: string,
    readonly outputs: Record<string, string | number | boolean>
  ) {
    super(message)
    this.name = 'FailureWithOutputs'
  }
}
