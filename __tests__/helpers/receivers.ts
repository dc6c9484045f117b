/**
 * Real HTTP receivers on 127.0.0.1 for notification tests: they record every request and
 * answer 200, answer 500, hang (never answer), or refuse (nothing listens on the port).
 * Plus a small server that speaks the few GitHub REST endpoints the issue mode uses.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

export interface Recorded {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
  at: number
}

export interface Receiver {
  /** Base URL, with a secret-looking path: it is a credential in real life. */
  url: string
  requests: Recorded[]
  stop(): Promise<void>
}

type Handler = (req: Recorded, res: ServerResponse) => void

async function listen(handler: Handler): Promise<{ server: Server; port: number; requests: Recorded[]; stop: () => Promise<void> }> {
  const requests: Recorded[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', chunk => (body += chunk))
    req.on('end', () => {
      const recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, at: Date.now() }
      requests.push(recorded)
      handler(recorded, res)
    })
  })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const stop = async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }
  return { server, port, requests, stop }
}

export async function startReceiver(mode: 'ok' | '500' | 'hang' | 'refuse', secretPath = '/hooks/T0SECRET/B0SECRET/xoxsecrettoken'): Promise<Receiver> {
  const { port, requests, stop } = await listen((_req, res) => {
    if (mode === 'hang') return // never answers; stop() destroys the socket
    res.writeHead(mode === 'ok' ? 200 : 500, { 'content-type': 'text/plain' }).end(mode === 'ok' ? 'ok' : 'boom')
  })
  if (mode === 'refuse') await stop() // the port was free a moment ago and nothing listens now
  return { url: `http://127.0.0.1:${port}${secretPath}`, requests, stop: mode === 'refuse' ? async () => undefined : stop }
}

export interface FakeIssue {
  number: number
  title: string
  body: string
  state: 'open' | 'closed'
  labels: string[]
  comments: string[]
}

export interface FakeGitHub {
  /** For GITHUB_API_URL. */
  url: string
  issues: FakeIssue[]
  labels: string[]
  requests: Recorded[]
  stop(): Promise<void>
}

/** The REST endpoints of the issue mode, for repository `owner/repo`, answering as GitHub does. */
export async function startFakeGitHub(token: string): Promise<FakeGitHub> {
  const issues: FakeIssue[] = []
  const labels: string[] = []
  const json = (res: ServerResponse, status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value))
  const view = (i: FakeIssue) => ({ number: i.number, title: i.title, body: i.body, state: i.state, labels: i.labels.map(name => ({ name })) })
  const { port, requests, stop } = await listen((req, res) => {
    if (req.headers.authorization !== `token ${token}`) return json(res, 401, { message: 'Bad credentials' })
    const url = new URL(req.path, 'http://x')
    const body = req.body ? (JSON.parse(req.body) as Record<string, unknown>) : {}
    const route = `${req.method} ${url.pathname}`
    let m: RegExpExecArray | null
    if (route === 'GET /repos/owner/repo/issues') {
      const label = url.searchParams.get('labels')
      const state = url.searchParams.get('state') ?? 'open'
      return json(res, 200, issues.filter(i => i.state === state && (!label || i.labels.includes(label))).map(view))
    }
    if (route === 'POST /repos/owner/repo/labels') {
      if (labels.includes(String(body.name))) return json(res, 422, { message: 'Validation Failed', errors: [{ code: 'already_exists' }] })
      labels.push(String(body.name))
      return json(res, 201, { name: body.name })
    }
    if (route === 'POST /repos/owner/repo/issues') {
      const issue: FakeIssue = {
        number: issues.length + 1,
        title: String(body.title),
        body: String(body.body ?? ''),
        state: 'open',
        labels: body.labels as string[],
        comments: []
      }
      issues.push(issue)
      return json(res, 201, view(issue))
    }
    if ((m = /^POST \/repos\/owner\/repo\/issues\/(\d+)\/comments$/.exec(route))) {
      issues[Number(m[1]) - 1].comments.push(String(body.body))
      return json(res, 201, { id: 1, body: body.body })
    }
    if ((m = /^PATCH \/repos\/owner\/repo\/issues\/(\d+)$/.exec(route))) {
      const issue = issues[Number(m[1]) - 1]
      if (typeof body.body === 'string') issue.body = body.body
      if (body.state === 'closed' || body.state === 'open') issue.state = body.state
      return json(res, 200, view(issue))
    }
    json(res, 404, { message: 'Not Found' })
  })
  return { url: `http://127.0.0.1:${port}`, issues, labels, requests, stop }
}
