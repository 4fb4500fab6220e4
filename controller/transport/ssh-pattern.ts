/**
 * OpenSSH's host pattern matching (match.c), shared by the ssh config reader
 * (`Host`, `Match host`) and the known_hosts checker. Both must decide
 * exactly as `ssh` does, or a user's config would silently mean something
 * else to kvmctl than to ssh.
 */

/**
 * One glob pattern against a whole string: `*` matches any run of characters
 * (including none), `?` exactly one; everything else literally. Case-sensitive,
 * like OpenSSH's match_pattern (callers lower-case both sides when OpenSSH does).
 */
export function matchPattern(text: string, pattern: string): boolean {
  // Iterative glob with single-star backtracking: linear in practice, no regex
  // built from user input.
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const pc = pattern[p];
    if (pc === '*') {
      starP = p;
      starT = t;
      p += 1;
    } else if (pc !== undefined && (pc === '?' || pc === text[t])) {
      p += 1;
      t += 1;
    } else if (starP >= 0) {
      p = starP + 1;
      starT += 1;
      t = starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/**
 * Result of a comma-separated pattern list, as OpenSSH's match_pattern_list:
 * `1` a positive pattern matched and no negated one did; `-1` a negated
 * pattern (`!pat`) matched — which vetoes the whole list; `0` nothing matched.
 */
export type PatternListResult = 1 | 0 | -1;

/**
 * Matches `text` against a comma-separated list such as `*.lan,!gw.lan`.
 * With `lowerCase`, both sides are compared in lower case (known_hosts and
 * `Match host` do this; `Host` lines do not).
 */
export function matchPatternList(text: string, list: string, lowerCase: boolean): PatternListResult {
  const subject = lowerCase ? text.toLowerCase() : text;
  let matched = false;
  for (const raw of list.split(',')) {
    if (raw === '') continue;
    const negated = raw.startsWith('!');
    const body = negated ? raw.slice(1) : raw;
    const pattern = lowerCase ? body.toLowerCase() : body;
    if (matchPattern(subject, pattern)) {
      if (negated) return -1;
      matched = true;
    }
  }
  return matched ? 1 : 0;
}

/**
 * The patterns of one `Host` line (whitespace-separated, each maybe negated):
 * true when some positive pattern matches and no negated one does. OpenSSH
 * compares the host exactly as typed here (no lower-casing).
 */
export function matchHostLine(host: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    if (matchPattern(host, negated ? raw.slice(1) : raw)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}
