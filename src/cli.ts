#!/usr/bin/env node
import { execute } from './execute.js'
import { cliHost, parseArgs, USAGE } from './cli-args.js'
import { keygen } from './keygen.js'

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  let flags: Map<string, string>
  try {
    flags = parseArgs(argv)
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`)
    process.exitCode = 2
    return
  }
  if (flags.get('command') === 'keygen') {
    try {
      await keygen(flags.get('output'), { stdout: text => process.stdout.write(text), stderr: text => process.stderr.write(text) })
    } catch (error) {
      process.stderr.write(`error: ${(error as Error).message}\n`)
      process.exitCode = 1
    }
    return
  }
  const failure = await execute(cliHost(flags, process.env))
  if (failure !== undefined) {
    process.stderr.write(`error: ${failure}\n`)
    process.exitCode = 1
  }
}

void main()
