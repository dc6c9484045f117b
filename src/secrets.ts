/**
 * Every secret the run knows, in every form it may take, so that any text
 * leaving the process (logs, errors, summaries, outputs) can be scrubbed.
 */
export class Secrets {
  private readonly values = new Set<string>()
  private readonly listeners: Array<(value: string) => void> = []

  /** Called for each new secret form (the action masks it with core.setSecret). */
  onAdd(listener: (value: string) => void): void {
    this.listeners.push(listener)
    for (const value of this.values) listener(value)
  }

  add(secret: string | undefined): void {
    if (!secret) return
    for (const form of [secret, encodeURIComponent(secret), encodeURI(secret)]) {
      if (form.length < 3 || this.values.has(form)) continue
      this.values.add(form)
      for (const listener of this.listeners) listener(form)
    }
  }

  redact(text: string): string {
    let out = text
    // Longest first, so that a URL is replaced whole rather than around its password.
    for (const value of [...this.values].sort((a, b) => b.length - a.length)) {
      out = out.split(value).join('***')
    }
    return redactUrls(out)
  }
}

/** Hides the password of any connection URL, including ones we were never told about. */
export function redactUrls(text: string): string {
  return text.replace(/\b(postgres(?:ql)?:\/\/[^:@/\s]*):[^@\s]*@/gi, '$1:***@')
}
