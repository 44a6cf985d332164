/**
 * Opens a client for a reference with the user's settings: credentials from
 * `login`, and plain http only if asked for (`insecure`) or listed in the
 * config's insecureRegistries. Plain http is announced through `warn`.
 */
import type { ClientOptions } from './client.js';
import { RegistryClient, type Action } from './client.js';
import type { Reference } from '../oci/reference.js';
import { RegistryConfig } from './registry-config.js';

export interface ConnectOptions extends Omit<ClientOptions, 'actions' | 'credentials'> {
  /** The config file to read; `RegistryConfig.load()`'s default when absent. */
  config?: RegistryConfig;
  /** Told once when the connection will be plain http. */
  warn?: (message: string) => void;
}

export async function connect(ref: Reference, actions: Action[], opts: ConnectOptions = {}): Promise<RegistryClient> {
  const config = opts.config ?? (await RegistryConfig.load());
  const insecure = opts.insecure === true || config.isInsecure(ref.registry);
  if (insecure) opts.warn?.(`warning: ${ref.registry}: using plain http (${opts.insecure ? '--insecure' : `insecureRegistries in ${config.file}`}); traffic is not encrypted or authenticated`);
  return new RegistryClient(ref.apiHost, ref.repository, {
    ...opts,
    insecure,
    actions,
    credentials: config.credentials(ref.registry),
  });
}
