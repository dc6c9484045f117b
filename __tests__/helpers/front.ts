/**
 * An HTTP front for an S3 server that counts the requests it forwards and can fail chosen ones,
 * to see what a run asked of a source and to break a source mid-way.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { spawn } from 'node:child_process'

export interface Front {
  endpoint: string
  /** Requests forwarded so far, as "METHOD /path?query". */
  requests: string[]
  /** Requests for which this returns true get a 500 InternalError. */
  fail?: (req: IncomingMessage) => boolean
  /** Requests for which this returns true get a 403 AccessDenied (a key that may not do this). */
  deny?: (req: IncomingMessage) => boolean
  stop(): Promise<void>
}

export async function startFront(targetPort: number): Promise<Front> {
  const front: Front = { endpoint: '', requests: [], stop: async () => undefined }
  const server: Server = createServer((req, res) => {
    const refusal = front.deny?.(req)
      ? ([403, 'AccessDenied', 'Access Denied'] as const)
      : front.fail?.(req)
        ? ([500, 'InternalError', 'injected failure'] as const)
        : undefined
    if (refusal) {
      req.resume()
      res.writeHead(refusal[0], { 'content-type': 'application/xml' })
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${refusal[1]}</Code><Message>${refusal[2]}</Message></Error>`)
      return
    }
    front.requests.push(`${req.method} ${req.url}`)
    const upstream = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, response => {
      res.writeHead(response.statusCode ?? 502, response.headers)
      response.pipe(res)
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  front.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  front.stop = () => new Promise(resolve => server.close(() => resolve()))
  return front
}

/** moto's S3 server on a random port (it accepts any credentials). */
export async function startMotoServer(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`moto did not start within 30 s:\n${out}`)), 30_000)
    const seen = (d: Buffer): void => {
      out += d
      const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (match) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    }
    child.stderr.on('data', seen)
    child.stdout.on('data', seen)
    child.on('exit', code => reject(new Error(`moto exited with ${code}:\n${out}`)))
  })
  child.stderr.resume()
  child.stdout.resume()
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return
      child.kill('SIGKILL')
      await new Promise(resolve => child.once('exit', resolve))
    }
  }
}
