/** `layerfs login REGISTRY`: checks credentials against the registry, then stores them (mode 0600). */
import { Command } from 'commander';
import { createInterface } from 'node:readline';
import { UsageError } from '../errors.js';
import { login } from '../registry/login.js';
import { RegistryConfig } from '../registry/registry-config.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  insecure?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks on the terminal without echoing what is typed. */
async function prompt(question: string, secret: boolean): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError(`${question.replace(/: $/, '')} needed: pass it as a flag (no terminal to ask on)`);
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (secret) {
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    out._writeToOutput = (s: string) => {
      if (s.startsWith(question)) process.stderr.write(question);
    };
  }
  try {
    return await new Promise<string>((res) => rl.question(question, res));
  } finally {
    rl.close();
    if (secret) process.stderr.write('\n');
  }
}

export function register(program: Command): void {
  program
    .command('login')
    .description('log in to a registry: the credentials are checked, then kept in the layerfs config (mode 0600)')
    .argument('<registry>', 'host[:port]')
    .option('-u, --username <name>')
    .option('-p, --password <password>', 'visible to other users in the process list; prefer --password-stdin')
    .option('--password-stdin', 'read the password from stdin')
    .option('--insecure', 'talk plain http to this registry, and remember that in the config')
    .action(async (registry: string, flags: LoginFlags) => {
      if (flags.password !== undefined && flags.passwordStdin) throw new UsageError('--password and --password-stdin are mutually exclusive');
      const username = flags.username ?? (await prompt('Username: ', false));
      const password = flags.passwordStdin ? await readStdin() : (flags.password ?? (await prompt('Password: ', true)));
      if (username === '' || password === '') throw new UsageError('username and password must not be empty');
      const config = await RegistryConfig.load();
      await login(registry, { username, password }, { config, insecure: flags.insecure, warn: (m) => process.stderr.write(`${m}\n`) });
      if (flags.insecure) process.stderr.write(`${registry} recorded in insecureRegistries in ${config.file}\n`);
      process.stdout.write('Login Succeeded\n');
    });
}
