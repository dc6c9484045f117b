/**
 * A small stand-in for Supabase's Management API on 127.0.0.1: the endpoints the action uses, with
 * the field names and status values of the published OpenAPI spec, and its answers for a missing
 * token (401), PITR off (400), a target out of range (422), rate limiting (429) and a started
 * restore (201, no body). It records every request.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  method: string
  path: string
  authorization?: string
  body: string
}

export interface FakeProject {
  ref: string
  pitrEnabled: boolean
  earliest?: number
  latest?: number
  backups: Array<{ status: string; inserted_at: string }>
  /** The statuses the project reports after a restore starts, one per status request; the last one stays. */
  afterRestore: string[]
  /** Called when a restore is accepted, before answering. */
  onRestore?: () => void
}

export interface FakeManagementApi {
  url: string
  token: string
  project: FakeProject
  requests: RecordedRequest[]
  /** Answer the next N requests with 429. */
  rateLimitNext(n: number, resetSeconds: number): void
  stop(): Promise<void>
}

const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) })

export async function startFakeManagementApi(project: FakeProject, token = 'sbp_fake_token_0123456789abcdef'): Promise<FakeManagementApi> {
  const requests: RecordedRequest[] = []
  let status = 'ACTIVE_HEALTHY'
  let queue: string[] = []
  let limited = 0
  let reset = 1

  const answer = (req: IncomingMessage, body: string): { status: number; body?: string; headers?: Record<string, string> } => {
    if (req.headers.authorization !== `Bearer ${token}`) return json(401, { message: 'Unauthorized' })
    if (limited > 0) {
      limited--
      return { ...json(429, { message: 'Too many requests' }), headers: { 'X-RateLimit-Reset': String(reset) } }
    }
    const url = new URL(req.url ?? '/', 'http://x')
    const base = `/v1/projects/${project.ref}`
    if (!url.pathname.startsWith(base)) return json(404, { message: 'Project not found' })
    const rest = url.pathname.slice(base.length)
    if (req.method === 'GET' && rest === '') {
      if (queue.length > 0) status = queue.shift() as string
      return json(200, { id: project.ref, ref: project.ref, name: 'app', region: 'eu-west-1', status })
    }
    if (req.method === 'GET' && rest === '/health') {
      const services = url.searchParams.getAll('services')
      if (services.length === 0) return json(400, { message: 'services is required' })
      return json(
        200,
        services.map(name => ({ name, healthy: status === 'ACTIVE_HEALTHY', status: status === 'ACTIVE_HEALTHY' ? 'ACTIVE_HEALTHY' : 'COMING_UP' }))
      )
    }
    if (req.method === 'GET' && rest === '/database/backups') {
      return json(200, {
        region: 'eu-west-1',
        walg_enabled: true,
        pitr_enabled: project.pitrEnabled,
        backups: project.backups.map((b, i) => ({ id: i + 1, is_physical_backup: true, ...b })),
        physical_backup_data:
          project.earliest === undefined ? {} : { earliest_physical_backup_date_unix: project.earliest, latest_physical_backup_date_unix: project.latest }
      })
    }
    if (req.method === 'POST' && rest === '/database/backups/restore-pitr') {
      if (!project.pitrEnabled) return json(400, { message: 'PITR is not enabled for this project.' })
      const target = (JSON.parse(body || '{}') as { recovery_time_target_unix?: unknown }).recovery_time_target_unix
      if (!Number.isInteger(target)) return json(400, { message: 'recovery_time_target_unix must be an integer' })
      if ((target as number) < (project.earliest ?? 0) || (target as number) > (project.latest ?? 0)) {
        return json(422, { message: 'Recovery time target is out of range' })
      }
      project.onRestore?.()
      queue = [...project.afterRestore]
      return { status: 201 }
    }
    return json(404, { message: 'Not found' })
  }

  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', chunk => (body += chunk))
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization, body })
      const reply = answer(req, body)
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers })
      res.end(reply.body)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    project,
    requests,
    rateLimitNext: (n, seconds) => {
      limited = n
      reset = seconds
    },
    stop: () => new Promise(resolve => server.close(() => resolve()))
  }
}
