/**
 * Runs a command with /usr/lib/postgresql hidden behind an empty tmpfs. Started inside
 * `unshare --mount` (as root), so the mount exists for this command's processes only.
 * No shell in between: sh would drop the runner's INPUT_<NAME-WITH-DASHES> variables.
 */
import { execFileSync, spawnSync } from 'node:child_process'

const [mount, command, ...args] = process.argv.slice(2)
execFileSync(mount, ['-t', 'tmpfs', 'tmpfs', '/usr/lib/postgresql'])
const result = spawnSync(command, args, { stdio: 'inherit' })
process.exit(result.status ?? 1)
