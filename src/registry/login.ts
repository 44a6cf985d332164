/**
 * `login` checks credentials against the registry before storing them (as
 * docker does), so a typo is caught now and not at the next push.
 * `logout` forgets them.
 */
import { RegistryClient } from './client.js';
import { RegistryConfig, type Credentials } from './registry-config.js';
import { Reference } from '../oci/reference.js';
import type { ConnectOptions } from './connect.js';

/** `registry` is a host[:port] (`docker.io` for Docker Hub). */
export async function login(registry: string, creds: Credentials, opts: ConnectOptions = {}): Promise<RegistryConfig> {
  const config = opts.config ?? (await RegistryConfig.load());
  const ref = Reference.parse(`${registry}/x`);
  const insecure = opts.insecure === true || config.isInsecure(ref.registry);
  if (insecure) opts.warn?.(`warning: ${ref.registry}: using plain http; the password crosses the network unencrypted`);
  const client = new RegistryClient(ref.apiHost, ref.repository, { ...opts, insecure, credentials: creds, actions: [] });
  try {
    await client.ping();
  } finally {
    client.close();
  }
  await config.setCredentials(ref.registry, creds);
  if (opts.insecure && !config.isInsecure(ref.registry)) await config.setInsecure(ref.registry, true);
  return config;
}

export async function logout(registry: string, config?: RegistryConfig): Promise<boolean> {
  const cfg = config ?? (await RegistryConfig.load());
  return cfg.removeCredentials(Reference.parse(`${registry}/x`).registry);
}
