/** `layerfs logout REGISTRY`: forgets the credentials `login` stored. */
import { Command } from 'commander';
import { logout } from '../registry/login.js';
import { RegistryConfig } from '../registry/registry-config.js';

export function register(program: Command): void {
  program
    .command('logout')
    .description('remove the stored credentials for a registry')
    .argument('<registry>', 'host[:port]')
    .action(async (registry: string) => {
      const config = await RegistryConfig.load();
      const removed = await logout(registry, config);
      process.stdout.write(removed ? `Removing login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
    });
}
