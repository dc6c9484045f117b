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

/**
 * Hides the password of anything URL-like, including URLs we were never told about and
 * ones a parser split wrongly: `scheme://user:password@` and `user:password@host`, the
 * password being anything up to the `@` (an unencoded `/` included) but spaces, quotes and
 * braces (and, without a scheme, commas), so that JSON holding a time or a URL and, later, a
 * user@host is left alone. The placeholder `password` in our own help texts stays readable.
 */
export function redactUrls(text: string): string {
  const mask = (whole: string, user: string, password: string) => (password === 'password' ? whole : `${user}:***@`)
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:@/\s]*):([^@\s"'<>{}]*)@/gi, mask)
    .replace(/(?<![^\s"'(=,;<])([^:@/\s"'(),;<]+):(?!\/\/)([^@\s"',<>{}]+)@(?=[\w[])/g, mask)
}
