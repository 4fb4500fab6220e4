/**
 * Picks the SSH engine: OpenSSH when configured, or by default when the
 * `ssh` binary is present; ssh2 when configured or when there is no `ssh`.
 * With `ssh.local: auto` (the default) a HOST that is this machine is
 * reached without SSH (local-first-engine.ts).
 */
import { invalidArgument } from '../../shared/errors.js';
import type { ControllerOptions } from '../config/controller-config.js';
import { LocalFirstEngine } from './local-first-engine.js';
import { findOpenSsh } from './openssh-args.js';
import { OpenSshEngine } from './openssh-engine.js';
import type { SshEngine, SshSettings } from './ssh-engine.js';

/** The engine for these options; its local sockets live under `runtimeDir`. */
export async function selectEngine(options: ControllerOptions, runtimeDir: string): Promise<SshEngine> {
  const settings: SshSettings = {
    configFile: options.ssh.configFile,
    knownHostsFile: options.ssh.knownHostsFile,
    identityFile: options.ssh.identityFile,
    connectTimeoutS: options.ssh.connectTimeoutS,
    keepaliveS: options.ssh.keepaliveS,
    ciphers: options.ssh.ciphers,
    runtimeDir,
    persistS: options.ssh.persistS,
  };
  const engine = await sshEngine(options, settings);
  return options.ssh.local === 'auto' ? new LocalFirstEngine(engine, settings) : engine;
}

/**
 * The engine itself. ssh2 (with its key parsers and ciphers, some 30 modules)
 * is loaded only when it is the one used: every kvmctl run with OpenSSH
 * starts that much sooner (45 ms of the testbed's 0.5 s start-up).
 */
async function sshEngine(options: ControllerOptions, settings: SshSettings): Promise<SshEngine> {
  const ssh = findOpenSsh();
  if (options.ssh.engine === 'openssh') {
    if (ssh === undefined) throw invalidArgument('ssh.engine is openssh but there is no `ssh` binary on PATH; install openssh-client or use the ssh2 engine');
    return new OpenSshEngine(settings);
  }
  if (options.ssh.engine === 'ssh2' || ssh === undefined) {
    // a setting that would silently do nothing is refused: only OpenSSH masters can outlive the run
    if (options.ssh.persistS > 0)
      throw invalidArgument(
        `ssh.persist needs the OpenSSH engine (${ssh === undefined ? 'there is no `ssh` binary on PATH' : 'ssh.engine is ssh2'}); set ssh.persist: 0 or use OpenSSH`,
      );
    const { Ssh2Engine } = await import('./ssh2-engine.js');
    return new Ssh2Engine(settings);
  }
  return new OpenSshEngine(settings);
}
