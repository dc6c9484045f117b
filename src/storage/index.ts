import type { S3Settings, StorageKind } from '../model/vocabulary.js'
import { ArtifactStorage } from './artifact.js'
import { LocalStorage } from './local.js'
import { S3Storage } from './s3.js'
import type { Storage } from './storage.js'

/** The part of the settings that says where backups live. */
export interface StorageSettings {
  storage: StorageKind[]
  path: string
  s3?: S3Settings
  artifactRetentionDays?: number
}

/** One Storage per kind named in `storage`, in the order given. */
export function openStorages(settings: StorageSettings, env: NodeJS.ProcessEnv): Storage[] {
  return settings.storage.map(kind => {
    if (kind === 's3') return new S3Storage(settings.s3!, env)
    if (kind === 'artifact') return new ArtifactStorage(settings.artifactRetentionDays)
    return new LocalStorage(settings.path)
  })
}
