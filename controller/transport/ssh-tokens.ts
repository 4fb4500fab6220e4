/**
 * Expansion of `~`, `${VAR}` and `%x` tokens in ssh config paths, in the
 * order OpenSSH applies them (tilde, then environment and percent tokens in
 * one pass). An unknown token or unset variable is an error, as in ssh: a
 * path silently left as "%C/id" would make kvmctl try a different key.
 */

/** What the expansions need to know about the local and remote side. */
export interface TokenContext {
  /** Local home directory (%d, ~). */
  readonly home: string;
  /** Local user name (%u, ~user for that user only). */
  readonly localUser: string;
  /** Token letter → value, e.g. { h: 'host.example', r: 'root', p: '22' }; `%%` is always '%'. */
  readonly tokens: Readonly<Record<string, string>>;
  /** Environment for ${VAR}. */
  readonly env: NodeJS.ProcessEnv;
}

/** An expansion problem; the caller adds which keyword and host. */
export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

/** `~`, `~/x` and `~USER/x` (USER = the local user; other users' homes are not looked up). */
export function expandTilde(path: string, home: string, localUser: string): string {
  if (!path.startsWith('~')) return path;
  const slash = path.indexOf('/');
  const name = path.slice(1, slash === -1 ? undefined : slash);
  if (name !== '' && name !== localUser) throw new TokenError(`cannot expand ~${name} in "${path}": only the current user's home (~ or ~${localUser}) is known`);
  const rest = slash === -1 ? '' : path.slice(slash);
  return home.replace(/\/$/, '') + rest || '/';
}

/** `%x` tokens from ctx.tokens and, when `withEnv`, `${VAR}` from ctx.env, in one left-to-right pass. */
export function expandTokens(value: string, ctx: TokenContext, withEnv: boolean): string {
  let out = '';
  for (let i = 0; i < value.length; i += 1) {
    const c = value[i];
    if (c === '%') {
      const t = value[i + 1];
      if (t === undefined) throw new TokenError(`"${value}" ends with a lone %`);
      const v = t === '%' ? '%' : ctx.tokens[t];
      if (v === undefined)
        throw new TokenError(
          `unknown token %${t} in "${value}" (known: %%, ${Object.keys(ctx.tokens)
            .map((k) => `%${k}`)
            .join(', ')})`,
        );
      out += v;
      i += 1;
    } else if (c === '$' && withEnv && value[i + 1] === '{') {
      const end = value.indexOf('}', i + 2);
      if (end === -1) throw new TokenError(`unterminated \${ in "${value}"`);
      const name = value.slice(i + 2, end);
      const v = ctx.env[name];
      if (v === undefined) throw new TokenError(`environment variable ${name} in "${value}" is not set`);
      out += v;
      i = end;
    } else {
      out += c;
    }
  }
  return out;
}

/** A path keyword's value fully expanded: tilde, then `${VAR}` and `%x`. */
export function expandPath(value: string, ctx: TokenContext): string {
  return expandTokens(expandTilde(value, ctx.home, ctx.localUser), ctx, true);
}
