import { BackupError } from '../errors.js'
import { arrayOf, bool, num, optional, parseChecked, shape, str } from '../model/validate.js'

/**
 * The few endpoints of Supabase's Management API this action uses, with the field names of its
 * published OpenAPI spec. Behind an interface so that the commands can be driven by a test server.
 */
export interface PlatformBackup {
  id?: number
  is_physical_backup: boolean
  /** COMPLETED, FAILED, PENDING, REMOVED, ARCHIVED, CANCELLED. */
  status: string
  inserted_at: string
}

export interface PlatformBackups {
  region: string
  walg_enabled: boolean
  pitr_enabled: boolean
  backups: PlatformBackup[]
  physical_backup_data?: { earliest_physical_backup_date_unix?: number; latest_physical_backup_date_unix?: number }
}

export interface ServiceHealth {
  name: string
  status: string
  healthy?: boolean
}

export interface ManagementApi {
  backups(ref: string): Promise<PlatformBackups>
  /** Starts a PITR restore; it cannot be cancelled once accepted. */
  restorePitr(ref: string, recoveryTimeUnix: number): Promise<void>
  /** ACTIVE_HEALTHY, RESTORING, RESTORE_FAILED, COMING_UP, … */
  projectStatus(ref: string): Promise<string>
  health(ref: string, services: string[]): Promise<ServiceHealth[]>
}

const BACKUPS_SHAPE = shape({
  region: str,
  walg_enabled: bool,
  pitr_enabled: bool,
  backups: arrayOf(shape({ is_physical_backup: bool, status: str, inserted_at: str })),
  physical_backup_data: optional(shape({ earliest_physical_backup_date_unix: optional(num), latest_physical_backup_date_unix: optional(num) }))
})

/** The API allows 120 requests a minute; a 429 says when to come back. */
const MAX_ATTEMPTS = 4
const MAX_WAIT_MS = 65_000
const REQUEST_TIMEOUT_MS = 30_000

export class HttpManagementApi implements ManagementApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly sleep: (ms: number) => Promise<void>
  ) {}

  async backups(ref: string): Promise<PlatformBackups> {
    const path = `/v1/projects/${ref}/database/backups`
    return parseChecked<PlatformBackups>(await this.request('GET', path), `the Management API's answer to GET ${path}`, BACKUPS_SHAPE)
  }

  async restorePitr(ref: string, recoveryTimeUnix: number): Promise<void> {
    await this.request('POST', `/v1/projects/${ref}/database/backups/restore-pitr`, { recovery_time_target_unix: recoveryTimeUnix })
  }

  async projectStatus(ref: string): Promise<string> {
    const path = `/v1/projects/${ref}`
    return parseChecked<{ status: string }>(await this.request('GET', path), `the Management API's answer to GET ${path}`, shape({ status: str })).status
  }

  async health(ref: string, services: string[]): Promise<ServiceHealth[]> {
    const path = `/v1/projects/${ref}/health?${services.map(s => `services=${encodeURIComponent(s)}`).join('&')}`
    return parseChecked<ServiceHealth[]>(
      await this.request('GET', path),
      `the Management API's answer to GET ${path}`,
      arrayOf(shape({ name: str, status: str }))
    )
  }

  private async request(method: string, path: string, body?: unknown): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      let response: Response
      try {
        response = await fetch(new URL(path, this.baseUrl), {
          method,
          headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
        })
      } catch (error) {
        if (attempt < MAX_ATTEMPTS) {
          await this.sleep(2000 * attempt)
          continue
        }
        throw new BackupError(`Supabase Management API ${method} ${path.split('?')[0]}: ${(error as Error).message}`)
      }
      const text = await response.text()
      if (response.ok) return text
      if ((response.status === 429 || response.status >= 500) && attempt < MAX_ATTEMPTS) {
        await this.sleep(retryDelayMs(response, attempt, Date.now()))
        continue
      }
      throw new BackupError(`Supabase Management API ${method} ${path.split('?')[0]} answered ${response.status}: ${apiMessage(text, response.status)}`)
    }
  }
}

/**
 * How long to wait before retrying. X-RateLimit-Reset is read as seconds until the window resets,
 * or as a unix time when it is one; either way the wait is capped.
 */
export function retryDelayMs(response: { status: number; headers: { get(name: string): string | null } }, attempt: number, now: number): number {
  const reset = Number(response.headers.get('x-ratelimit-reset') ?? response.headers.get('retry-after'))
  if (response.status === 429 && Number.isFinite(reset) && reset > 0) {
    const ms = reset > 1e9 ? reset * 1000 - now : reset * 1000
    return Math.min(Math.max(ms, 1000), MAX_WAIT_MS)
  }
  return Math.min(2000 * 2 ** (attempt - 1), MAX_WAIT_MS)
}

function apiMessage(text: string, status: number): string {
  try {
    const body = JSON.parse(text) as { message?: unknown }
    if (typeof body.message === 'string') return body.message
  } catch {
    // not JSON: fall through to a generic message
  }
  if (status === 401) return 'the access token was refused; check supabase-access-token'
  if (status === 403) return "the access token may not do this; it needs the permissions listed in the README's Supabase section"
  return text.slice(0, 200) || 'no message'
}
