/** Recorded in manifests; bump with package.json. */
export const ACTION_VERSION = '0.1.0'
