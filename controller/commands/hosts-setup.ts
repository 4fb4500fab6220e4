/**
 * `kvmctl hosts setup HOST --package FILE [--account NAME] [--key FILE]
 * [--dry-run]`: puts kvmclone on a hypervisor over SSH (as root, or a user
 * with sudo; host keys checked as for every connection): installs or
 * upgrades the package with apt-get, enables and starts the agent, sets up
 * the unprivileged SSH account kvmctl then logs in as, and ends with
 * `hosts check`. Changes only what the host lacks: a second run changes
 * nothing and says so; an upgrade waits until the agent holds no operation;
 * a newer installed version is never downgraded.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { invalidArgument } from '../../shared/errors.js';
import { runInContext, type CommandContext } from '../cli/command-context.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { readPackageFile } from '../operations/setup/package-file.js';
import { runSetup } from '../operations/setup/run-setup.js';
import { checkAccountName, checkPublicKey } from '../operations/setup/ssh-account.js';
import { checkHosts } from '../operations/host-report.js';

interface SetupFlags {
  package?: string;
  account?: string;
  key?: string;
  dryRun?: boolean;
}

/** The public key to authorize: --key, else the identity kvmctl uses (ssh.identity_file) + .pub, else the usual ~/.ssh keys. */
async function publicKey(ctx: CommandContext, flag: string | undefined): Promise<string> {
  const identity = ctx.options.ssh.identityFile;
  const defaults = [...(identity !== undefined ? [`${identity}.pub`] : []), ...['id_ed25519', 'id_ecdsa', 'id_rsa'].map((k) => join(homedir(), '.ssh', `${k}.pub`))];
  const path = flag !== undefined ? resolve(flag) : defaults.find((p) => existsSync(p));
  if (path === undefined) throw invalidArgument(`--account needs the public key kvmctl logs in with: give it with --key FILE.pub (none of ${defaults.join(', ')} exists)`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw invalidArgument(`--key ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  return checkPublicKey(path, text);
}

/** `hosts setup HOST` once its context is set up. */
async function setupHost(ctx: CommandContext, host: string, flags: SetupFlags): Promise<number> {
  // Usage errors first, before any connection.
  const account = flags.account === undefined ? undefined : checkAccountName(flags.account);
  if (flags.key !== undefined && account === undefined) throw invalidArgument('--key goes with --account');
  const key = account === undefined ? undefined : await publicKey(ctx, flags.key);
  const pkg = await readPackageFile(resolve(flags.package ?? ''), ctx.signal);
  const dryRun = flags.dryRun === true;
  const say = (line: string): void => void (ctx.json ? ctx.reporter.debug(line) : process.stdout.write(`${line}\n`));
  say(`${host}: setting up kvmclone ${pkg.version}${dryRun ? ' (dry run: nothing is changed)' : ''}`);
  const outcome = await runSetup({
    host,
    pkg,
    ...(account !== undefined && key !== undefined && { account: { name: account, key } }),
    dryRun,
    engine: ctx.engine,
    agentSocket: ctx.options.agentSocket,
    callMs: ctx.options.timeouts.callMs,
    signal: ctx.signal,
    say,
    debug: (m) => ctx.reporter.debug(m),
  });
  const n = outcome.changed.length;
  if (dryRun) {
    if (outcome.steps.length === 0) say(`${host}: nothing to change`);
  } else {
    say(
      n === 0
        ? `${host}: nothing changed (kvmclone ${pkg.version} installed, agent enabled and running${account !== undefined ? `, account ${account} set up` : ''})`
        : `${host}: ${n} change${n > 1 ? 's' : ''}`,
    );
  }
  // a dry run changed nothing there is to check
  const check = dryRun ? { code: EXIT_OK, hosts: [] } : await checkHosts(ctx, [host], { jsonResult: false });
  if (ctx.json)
    ctx.reporter.result({
      ok: check.code === EXIT_OK,
      operation: 'hosts-setup',
      host,
      dryRun,
      version: pkg.version,
      steps: outcome.steps,
      changed: outcome.changed,
      ...(!dryRun && { check: check.hosts[0] ?? null }),
    });
  return check.code;
}

/** `hosts setup`. */
export function hostsSetupCommand(run: (code: Promise<number>) => void): Command {
  return new Command('setup')
    .description('install or upgrade kvmclone on HOST over SSH, start its agent, set up the SSH account, then check it')
    .argument('<host>', 'an ssh config alias or [user@]host[:port] that logs in as root (or a user with sudo)')
    .addOption(new Option('--package <file>', 'the kvmclone .deb to install (scripts/package builds it)').makeOptionMandatory())
    .addOption(
      new Option('--account <name>', 'also set up this unprivileged SSH account for kvmctl (e.g. kvmclone): created if missing, the key authorized for socket forwarding only'),
    )
    .addOption(new Option('--key <file>', 'the public key to authorize for --account (default: ssh.identity_file.pub, else ~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub)'))
    .addOption(new Option('--dry-run', 'say what would change; change nothing'))
    .action((host: string, flags: SetupFlags, command: Command) => {
      runInContext(run, command, (ctx) => setupHost(ctx, host, flags));
    });
}
