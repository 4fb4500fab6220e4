/**
 * The kvmctl(1) man page: its command tree (program.ts) rendered with the
 * sections the help cannot hold — exit status, files, environment. Written
 * out at build time by scripts/gen-docs.mjs.
 */
import { renderManPage, type ManPageText } from '../../shared/cli-docs/man-page.js';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE } from './exit-codes.js';
import { buildProgram } from './program.js';

/** What kvmctl(1) says beyond its commands. */
const KVMCTL_PAGE: ManPageText = {
  section: 1,
  description: [
    'kvmctl copies KVM virtual machines from one host to another and keeps the copies in sync, moving only changed blocks. It reaches the kvmclone-agent on each host through SSH (gRPC over forwarded unix sockets; nothing listens on TCP) and has the two agents move the bytes between them directly.',
    'HOST is what ssh would accept: a Host alias of the ssh config, or [user@]host[:port]. Every operation is recorded in a history database; --json turns the output into NDJSON events whose last line is the result.',
  ],
  sections: [
    {
      title: 'Exit status',
      items: [
        [String(EXIT_OK), 'done'],
        [String(EXIT_FAILED), 'failed; nothing was left half-made (an agent that cannot be reached is a failure)'],
        [String(EXIT_USAGE), 'usage or config error'],
        [String(EXIT_REFUSED), 'refused by preflight (space, name taken, VM state, incompatible host, unknown or changed host key), or what was named does not exist'],
        [String(EXIT_INTERRUPTED), 'interrupted; what was begun was reverted'],
      ],
    },
    {
      title: 'Environment',
      items: [
        ['XDG_CONFIG_HOME', 'kvmctl.yaml is read from $XDG_CONFIG_HOME/kvmclone/ (default ~/.config/kvmclone/)'],
        ['XDG_STATE_HOME', 'the history database lives in $XDG_STATE_HOME/kvmclone/ (default ~/.local/state/kvmclone/)'],
        ['KVMCTL_DEBUG', '1: debug lines, and the underlying SSH or gRPC error under a failure (as --verbose)'],
        ['NO_COLOR', 'kvmctl prints no colours in any case; progress bars are drawn only on a terminal'],
      ],
    },
    {
      title: 'Files',
      items: [
        ['~/.config/kvmclone/kvmctl.yaml', 'settings (kvmctl config show|get|set|unset edits it)'],
        ['~/.local/state/kvmclone/history.sqlite', 'operations, replicas and restore points kvmctl recorded'],
        ['~/.ssh/config, ~/.ssh/known_hosts', 'how hosts are reached, and their keys (checked strictly)'],
      ],
    },
  ],
  seeAlso: ['kvmclone-agent(8)', 'ssh(1)', 'ssh_config(5)', 'virsh(1)'],
};

/** kvmctl(1), dated `date` (YYYY-MM-DD). */
export const kvmctlManPage = (date: string): string => renderManPage(buildProgram, KVMCTL_PAGE, date);
