/** How long a notification may take: each attempt is cut at timeoutMs, and a failed one is tried again after backoffMs. */
export interface DeliveryLimits {
  timeoutMs: number
  attempts: number
  backoffMs: number
}

/** Worst case per target: 2 × 10 s + 1 s. Targets are sent in parallel, so this is also the run's worst case. */
export const DEFAULT_LIMITS: DeliveryLimits = { timeoutMs: 10_000, attempts: 2, backoffMs: 1_000 }

/**
 * Sends one request, bounded. Resolves with undefined when the receiver answered 2xx, else with
 * why not (after the retries); never throws: a notification cannot change a run's outcome.
 * Retries only what may pass next time: no answer, 429 and 5xx.
 */
export async function deliver(
  url: string,
  init: { method: 'GET' | 'POST'; body?: string; contentType?: string },
  limits: DeliveryLimits
): Promise<string | undefined> {
  let problem = ''
  for (let attempt = 1; attempt <= limits.attempts; attempt++) {
    if (attempt > 1) await new Promise(resolve => setTimeout(resolve, limits.backoffMs))
    try {
      const response = await fetch(url, {
        method: init.method,
        body: init.body,
        headers: init.contentType ? { 'content-type': init.contentType } : undefined,
        signal: AbortSignal.timeout(limits.timeoutMs),
        redirect: 'follow'
      })
      await response.body?.cancel()
      if (response.ok) return undefined
      problem = `HTTP ${response.status}`
      if (response.status !== 429 && response.status < 500) break
    } catch (error) {
      problem = describe(error, limits.timeoutMs)
    }
  }
  return `${problem} (${limits.attempts > 1 ? `after ${limits.attempts} attempts` : 'one attempt'})`
}

function describe(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`
  // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND) is in its cause.
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error)
}
