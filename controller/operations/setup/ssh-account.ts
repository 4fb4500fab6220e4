/**
 * The SSH account step of `kvmctl hosts setup --account NAME`: the
 * unprivileged account kvmctl logs in as (see deploy/sshd/kvmclone.conf),
 * created when missing, in the agent socket's group, and the controller's
 * public key authorized for socket forwarding only. For the package's own
 * account (kvmclone) the packaged sshd settings apply; another name gets a
 * copy of them under its name. Every part checks before it changes, so a
 * second run reports no change.
 */
import { invalidArgument } from '../../../shared/errors.js';

/** Key types sshd accepts for an account like this. */
const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** Checks an account name (useradd's portable names). */
export function checkAccountName(name: string): string {
  if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(name))
    throw invalidArgument(`--account '${name}': an account name is lower-case letters, digits, _ and -, starting with a letter or _, at most 31 characters`);
  if (name === 'root') throw invalidArgument(`--account root: the account kvmctl logs in as must not be root`);
  return name;
}

/** Checks a public key file's text: one `type base64 [comment]` line; returns it without options or a trailing newline. */
export function checkPublicKey(source: string, text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length !== 1) throw invalidArgument(`${source}: a public key file holds one key line, found ${lines.length}`);
  const line = lines[0];
  const [type, blob, ...comment] = line.split(/\s+/);
  if (type === undefined || !KEY_TYPES.has(type)) throw invalidArgument(`${source}: not an OpenSSH public key (type '${type ?? ''}'; is it the private key? give the .pub)`);
  if (blob === undefined || !/^[A-Za-z0-9+/]+={0,3}$/.test(blob) || blob.length < 32) throw invalidArgument(`${source}: the key's base64 is malformed`);
  const safeComment = comment.join(' ').replace(/[^\x20-\x7e]/g, '');
  return [type, blob, ...(safeComment === '' ? [] : [safeComment])].join(' ');
}

/**
 * The account script, run as root: $1 the name, $2 the key line. Prints
 * `changed: …` for each change and `sshd=reload` when sshd must re-read its
 * settings; exits 3 (with a reason) when the package is not there.
 */
export const ACCOUNT_SCRIPT = String.raw`set -eu
name=$1; key=$2
blob=$(printf '%s\n' "$key" | cut -d' ' -f2)
getent group kvmclone >/dev/null || { echo "no group kvmclone: the kvmclone package is not installed" >&2; exit 3; }
if ! getent passwd "$name" >/dev/null; then
  adduser --system --quiet --ingroup kvmclone --no-create-home --home /nonexistent --shell /usr/sbin/nologin "$name"
  echo "changed: created the account $name (system user, no shell, group kvmclone)"
elif ! id -nG "$name" | tr ' ' '\n' | grep -qx kvmclone; then
  adduser --quiet "$name" kvmclone
  echo "changed: added $name to the group kvmclone"
fi
install -d -m 0755 /etc/ssh/kvmclone
if [ "$name" = kvmclone ]; then
  keys=/etc/ssh/kvmclone/authorized_keys
else
  keys=/etc/ssh/kvmclone/$name.authorized_keys
  base=/etc/ssh/sshd_config.d/kvmclone.conf
  conf=/etc/ssh/sshd_config.d/kvmclone-$name.conf
  [ -f "$base" ] || { echo "$base is missing: the kvmclone package is not installed" >&2; exit 3; }
  tmp=$(mktemp "$conf.XXXXXX")
  sed -e "s|^Match User kvmclone\$|Match User $name|" -e "s|^\( *AuthorizedKeysFile\) /etc/ssh/kvmclone/authorized_keys\$|\1 $keys|" "$base" >"$tmp"
  chmod 0644 "$tmp"
  if [ -f "$conf" ] && cmp -s "$tmp" "$conf"; then rm -f "$tmp"; else
    mv "$tmp" "$conf"
    echo "changed: wrote $conf (the packaged sshd settings, for $name)"
    echo "sshd=reload"
  fi
fi
if [ -f "$keys" ] && grep -qF " $blob" "$keys"; then :; else
  printf 'restrict,port-forwarding %s\n' "$key" >>"$keys"
  chmod 0644 "$keys"
  echo "changed: authorized the key for $name in $keys (socket forwarding only)"
fi
`;
