import type { Settings } from '../inputs.js'
import { ArtifactStorage } from './artifact.js'
import { LocalStorage } from './local.js'
import { S3Storage } from './s3.js'
import type { Storage } from './storage.js'

/** One Storage per kind named in `storage`, in the order given. */
export function openStorages(settings: Settings, env: NodeJS.ProcessEnv): Storage[] {
  return settings.storage.map(kind => {
    if (kind === 's3') return new S3Storage(settings.s3!, env)
    if (kind === 'artifact') return new ArtifactStorage(settings.artifactRetentionDays)
    return new LocalStorage(settings.path)
  })
}
