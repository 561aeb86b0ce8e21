import { mkdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { type Identity, loadOrCreateIdentity } from '@p2pd/identity'

/**
 * The per-user config directory: `$XDG_CONFIG_HOME/p2pd` (or `~/.config/p2pd`) on Linux and
 * other Unixes, `~/Library/Application Support/p2pd` on macOS, `%APPDATA%\p2pd` on Windows.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32') {
    return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'p2pd')
  }
  if (process.platform === 'darwin') {
    return join(homedir(), 'Library', 'Application Support', 'p2pd')
  }
  const xdg = env.XDG_CONFIG_HOME
  return join(xdg?.startsWith('/') ? xdg : join(homedir(), '.config'), 'p2pd')
}

/** Where this user's node key lives unless `--key` says otherwise. */
export function defaultKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'key.json')
}

/** Where the config file is looked for unless `--config` / `P2PD_CONFIG` says otherwise. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.json')
}

/**
 * Loads the node key at `path`, creating it (mode 0600, in a directory created 0700) on first
 * use. An existing directory keeps its mode: it is the user's.
 */
export async function loadKey(path: string): Promise<Identity> {
  const dir = dirname(path)
  const existed = await stat(dir).then(
    () => true,
    () => false,
  )
  if (!existed) await mkdir(dir, { recursive: true, mode: 0o700 })
  return loadOrCreateIdentity(path)
}
