/**
 * Edits of kvmctl.yaml for `kvmctl config set|unset`, through the YAML
 * document (comments, order and formatting of everything else kept), and
 * checked against the same schema kvmctl loads the file with before
 * anything is written: a bad key or value is refused and the file is left
 * as it was. Writes are atomic (a temporary file beside it, renamed over it).
 */
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isMap, isScalar, parse as parseYaml, parseDocument, stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../shared/config/config-file.js';
import { errnoCode } from '../../shared/errors.js';
import { controllerFileSchema } from './controller-config.js';

/** One change to the file. */
export type ConfigEdit = { op: 'set'; key: string; value: string } | { op: 'unset'; key: string };

const SEGMENT = /^[a-z][a-z0-9_]*$/;

/** "transfer.bwlimit" → ["transfer", "bwlimit"]; anything else is a usage error. */
export function keyPath(key: string): string[] {
  const path = key.split('.');
  if (key === '' || !path.every((p) => SEGMENT.test(p))) {
    throw new ConfigError('the command line', [`"${key}" is not a config key (dotted lower-case names, e.g. transfer.bwlimit)`]);
  }
  return path;
}

/** A value as it would be written in YAML: `4` a number, `true` a boolean, `[a, b]` a list, `50M` text. */
export function parseValue(text: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The file's text with `edit` applied, checked against the schema (throws
 * ConfigError naming every problem; nothing is changed then). Unsetting a
 * key also removes the sections it leaves empty.
 */
export function applyConfigEdit(text: string, edit: ConfigEdit, source: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new ConfigError(source, [`not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`]);
  const path = keyPath(edit.key);
  if (edit.op === 'set') {
    const value = parseValue(edit.value);
    const existing: unknown = doc.getIn(path, true);
    // A scalar replaced in place keeps its comment; anything else is a new node.
    if (isScalar(existing) && (value === null || typeof value !== 'object')) existing.value = value;
    else doc.setIn(path, doc.createNode(value));
  } else {
    if (!doc.hasIn(path)) throw new ConfigError(source, [`${edit.key}: not set in the file`]);
    doc.deleteIn(path);
    for (let n = path.length - 1; n > 0; n--) {
      const parent = doc.getIn(path.slice(0, n));
      if (isMap(parent) && parent.items.length === 0) doc.deleteIn(path.slice(0, n));
    }
  }
  const next = doc.contents === null || (isMap(doc.contents) && doc.contents.items.length === 0) ? '' : doc.toString();
  parseConfig(controllerFileSchema, parseYaml(next) ?? {}, `${source} (after ${edit.op} ${edit.key})`);
  return next;
}

/** The value of `key` in the file's text, or undefined when the file does not set it. */
export function configValue(text: string, key: string): unknown {
  const value: unknown = parseDocument(text).getIn(keyPath(key));
  return value !== null && typeof value === 'object' && 'toJSON' in value ? (value as { toJSON(): unknown }).toJSON() : value;
}

/** A value printed the way it is written in the file (a list or section as flow YAML). */
export function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : stringify(value, { flow: true }).trim();
}

/** The file's text, or '' when there is none yet. */
export async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return '';
    throw new ConfigError(path, [`cannot read the file: ${errnoCode(err) ?? String(err)}`]);
  }
}

/** Replaces the file with `text` atomically (mode kept; a new file is 0600, its directory made). */
export async function writeConfigText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const mode = await stat(path).then(
    (s) => s.mode & 0o777,
    () => 0o600,
  );
  const tmp = join(dirname(path), `.kvmctl.yaml.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, { mode });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
