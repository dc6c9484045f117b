import type { Command } from '../inputs.js'
import { backup } from './backup.js'
import type { Context } from './context.js'

export type Outputs = Record<string, string | number | boolean>

/** Each command returns the step outputs it sets. */
export const COMMAND_RUNNERS: Record<Command, (ctx: Context) => Promise<Outputs>> = {
  backup: async ctx => {
    const result = await backup(ctx)
    const data = result.manifest.objects[0]
    return {
      'backup-id': result.manifest.id,
      location: result.location,
      'size-bytes': data.size,
      sha256: data.sha256,
      'duration-seconds': result.durationSeconds.toFixed(1)
    }
  },
  verify: notYet('verify'),
  drill: notYet('drill'),
  restore: notYet('restore'),
  prune: notYet('prune'),
  monitor: notYet('monitor')
}

function notYet(command: string): (ctx: Context) => Promise<Outputs> {
  return () => Promise.reject(new Error(`command "${command}" is not available in this version`))
}
