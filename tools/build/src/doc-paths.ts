// Keeps the repository's map true: finds every backticked file or folder path in a Markdown
// document (ARCHITECTURE.md) and reports those that do not exist. Pure apart from `exists`.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

/** Top-level entries a repo-relative path starts with. */
const ROOTS = ['apps/', 'libs/', 'tools/', 'bench/', 'scripts/', 'docker/', '.ci/'];
const ROOT_FILES = new Set(['nx.json', 'package.json', 'package-lock.json', 'tsconfig.base.json', 'README.md', 'ARCHITECTURE.md']);
const FILE_EXT = /\.(ts|mjs|js|json|md|sh|ya?ml)$/;
/** Illustrations of a naming rule, not files (`foo.spec.ts` beside `foo.ts`). */
const EXAMPLES = /^foo\b/;
/** Made by a build, absent from a fresh clone. */
const GENERATED = /^dist\//;

export interface MissingPath {
  /** 1-based line of the document. */
  line: number;
  /** The path as written. */
  path: string;
}

/** `a/{b,c}.ts` → `a/b.ts`, `a/c.ts` (one level of braces is all the document uses). */
export function expandBraces(path: string): string[] {
  const m = /^(.*?)\{([^{}]*)\}(.*)$/.exec(path);
  if (!m) return [path];
  return m[2]!.split(',').flatMap((alt) => expandBraces(`${m[1]}${alt}${m[3]}`));
}

/** A backticked token that names a file or folder (rather than a command, flag or identifier). */
function looksLikePath(token: string): boolean {
  if (!token || /\s/.test(token) || token.includes('*') || token.includes(':') || EXAMPLES.test(token) || GENERATED.test(token)) return false;
  if (ROOT_FILES.has(token) || ROOTS.some((r) => token.startsWith(r))) return true;
  return FILE_EXT.test(token) || (token.endsWith('/') && /^[\w.-]+(\/[\w.-]+)*\/$/.test(token));
}

const isRepoRelative = (p: string) => ROOT_FILES.has(p) || ROOTS.some((r) => p.startsWith(r));

/**
 * Every backticked path of `markdown` that does not exist. Repo-relative paths must exist as
 * written (a `<name>` placeholder matches any one entry). A bare name (`server.ts`, `sys/proc-net.ts`)
 * belongs to the repo-relative paths on the same line: it must exist in one of their folders, their
 * `src/`, or a folder above them, or in the document's own folder (`documentDir`, repo-relative).
 */
export function missingPaths(markdown: string, exists: (repoRelative: string) => boolean, documentDir = '.'): MissingPath[] {
  const missing: MissingPath[] = [];
  markdown.split('\n').forEach((text, i) => {
    const tokens = [...text.matchAll(/`([^`]*)`/g)].map((m) => m[1]!).filter(looksLikePath);
    const absolute = tokens.filter(isRepoRelative);
    const anchors = [documentDir, ...absolute.flatMap(expandBraces)].map((p, k) => {
      if (k === 0) return p;
      const clean = p.replace(/\/$/, '');
      const dir = p.endsWith('/') ? clean : dirname(clean);
      return dir.split('/').filter((seg) => !seg.includes('<')).join('/');
    });
    for (const token of tokens) {
      const ok = isRepoRelative(token)
        ? expandBraces(token).every((p) => exists(p.replace(/\/$/, '')))
        : anchors.some((anchor) => candidates(anchor, token).some(exists));
      if (!ok) missing.push({ line: i + 1, path: token });
    }
  });
  return missing;
}

/** Where a bare name written next to `anchor` may live. */
function candidates(anchor: string, name: string): string[] {
  const rel = name.replace(/\/$/, '');
  const out: string[] = [];
  for (let dir = anchor; ; dir = posix.dirname(dir)) {
    out.push(posix.join(dir, rel), posix.join(dir, 'src', rel));
    if (dir === '.' || dir === '' || !dir.includes('/')) break;
  }
  out.push(rel);
  return out;
}

/** `exists` for a checkout at `root`; `<placeholder>` segments match any entry. */
export function existsIn(root: string): (repoRelative: string) => boolean {
  return (p) => {
    const segs = p.split('/');
    const walk = (dir: string, i: number): boolean => {
      if (i === segs.length) return true;
      const seg = segs[i]!;
      if (!seg.includes('<')) return existsSync(join(dir, seg)) && walk(join(dir, seg), i + 1);
      const re = new RegExp(`^${seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/<[^>]*>/g, '.+')}$`);
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        return false;
      }
      return entries.some((e) => re.test(e) && walk(join(dir, e), i + 1));
    };
    return walk(root, 0);
  };
}
