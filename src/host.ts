/**
 * What a command needs from where it runs: the GitHub runner (via @actions/core)
 * or a terminal (the CLI). Commands never touch process.env or stdout directly.
 */
export interface Host {
  input(name: string): string
  output(name: string, value: string | number | boolean): void
  secret(value: string): void
  info(message: string): void
  warning(message: string): void
  /** Shown only when debugging is on (ACTIONS_STEP_DEBUG on a runner, PG_BACKUP_DEBUG in a terminal). */
  debug(message: string): void
  summary(markdown: string): Promise<void>
  env: NodeJS.ProcessEnv
}
