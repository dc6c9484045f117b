import * as core from '@actions/core'
import { execute } from './execute.js'
import type { Host } from './host.js'

/** The GitHub Actions host: inputs, outputs, masking and the job summary via @actions/core. */
export const actionsHost: Host = {
  input: name => core.getInput(name),
  output: (name, value) => core.setOutput(name, String(value)),
  secret: value => core.setSecret(value),
  info: message => core.info(message),
  warning: message => core.warning(message),
  debug: message => core.debug(message),
  summary: async markdown => {
    if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(markdown, true).write()
  },
  env: process.env
}

/** The action's entry point; the only place a step is marked failed. */
export async function run(host: Host = actionsHost): Promise<void> {
  const failure = await execute(host)
  if (failure !== undefined) core.setFailed(failure)
}
