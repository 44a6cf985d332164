/**
 * The user's registry settings: credentials from `login` and the registries
 * allowed over plain http. One JSON file, mode 0600 because it holds
 * passwords, docker's `auths` layout so it reads familiar:
 *   { "auths": { "localhost:5000": { "auth": base64("user:pass") } },
 *     "insecureRegistries": ["localhost:5000"] }
 * Written to a temp file and renamed, so a crash never leaves half a file.
 */
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { LayerfsError } from '../errors.js';

export interface Credentials {
  username: string;
  password: string;
}

interface ConfigFile {
  auths?: Record<string, { auth?: string }>;
  insecureRegistries?: string[];
  [other: string]: unknown;
}

/** `LAYERFS_CONFIG`, else `$XDG_CONFIG_HOME/layerfs/config.json`, else `~/.config/layerfs/config.json`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LAYERFS_CONFIG) return env.LAYERFS_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'layerfs', 'config.json');
}

export class RegistryConfig {
  private constructor(
    readonly file: string,
    private data: ConfigFile,
  ) {}

  static async load(file = defaultConfigPath()): Promise<RegistryConfig> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new RegistryConfig(file, {});
      throw err;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new LayerfsError('BAD_CONFIG', `${file}: not valid JSON: ${(err as Error).message}`, { file });
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new LayerfsError('BAD_CONFIG', `${file}: expected a JSON object`, { file });
    }
    return new RegistryConfig(file, data as ConfigFile);
  }

  credentials(registry: string): Credentials | undefined {
    const auth = this.data.auths?.[registry]?.auth;
    if (typeof auth !== 'string') return undefined;
    const plain = Buffer.from(auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon < 0) throw new LayerfsError('BAD_CONFIG', `${this.file}: auths.${registry}.auth is not base64 of user:password`, { file: this.file });
    return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }

  isInsecure(registry: string): boolean {
    return Array.isArray(this.data.insecureRegistries) && this.data.insecureRegistries.includes(registry);
  }

  async setCredentials(registry: string, creds: Credentials): Promise<void> {
    const auth = Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
    this.data = { ...this.data, auths: { ...this.data.auths, [registry]: { auth } } };
    await this.save();
  }

  /** Returns whether there was anything to remove. */
  async removeCredentials(registry: string): Promise<boolean> {
    if (this.data.auths?.[registry] === undefined) return false;
    const { [registry]: _, ...rest } = this.data.auths;
    this.data = { ...this.data, auths: rest };
    await this.save();
    return true;
  }

  async setInsecure(registry: string, insecure: boolean): Promise<void> {
    const list = new Set(this.data.insecureRegistries ?? []);
    if (insecure) list.add(registry);
    else list.delete(registry);
    this.data = { ...this.data, insecureRegistries: [...list].sort() };
    await this.save();
  }

  private async save(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(this.data, null, 2) + '\n', { mode: 0o600 });
      await chmod(tmp, 0o600); // the umask may have narrowed it further, never widened; make it exact
      await rename(tmp, this.file);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  }

  /** The file's mode, for callers that warn about a group- or world-readable file. */
  async mode(): Promise<number | undefined> {
    try {
      return (await stat(this.file)).mode & 0o777;
    } catch {
      return undefined;
    }
  }
}
