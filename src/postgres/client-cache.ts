import * as cache from '@actions/cache'

/**
 * Keeps an installed client between runs. Behind this interface so tests can hand a fake:
 * the real one needs the Actions cache service, which exists only on a runner.
 */
export interface ClientCache {
  /** Restores the entry saved under `key` to `paths`; false on a miss. May throw (service error). */
  restore(paths: string[], key: string): Promise<boolean>
  save(paths: string[], key: string): Promise<void>
}

/** actions/cache, when the runner offers the cache service (never in the CLI). */
export function actionsCache(): ClientCache | undefined {
  if (!cache.isFeatureAvailable()) return undefined
  return {
    restore: async (paths, key) => (await cache.restoreCache(paths, key)) !== undefined,
    save: async (paths, key) => {
      await cache.saveCache(paths, key)
    }
  }
}
