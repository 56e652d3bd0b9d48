/**
 * The temporary files of atomic saves, and the removal of those whose writer is gone.
 *
 * A save writes `.<target name>.<origin>.<pid>.<thread id>.<random>.tmp` beside the target and
 * renames it over the target. A writer killed on the way leaves its file; the next save to the
 * same path removes it, but only when it can tell the writer is gone:
 *
 * - the origin is a hash of the host name and the pid namespace, so a pid is only compared with
 *   processes that pid can name: a container sharing the volume, another machine on NFS, have
 *   other origins, and their files are left alone;
 * - of this origin: another process's file when that process does not exist; this thread's own
 *   file when no save of this thread is writing it (a process that had this pid before, as after a
 *   container restart); another thread's file of this process is left alone (it may be writing);
 * - any file older than a day, whatever its origin (no save takes a day), and files named as older
 *   versions of this package named them (no origin) once older than an hour.
 *
 * Removal is best-effort: a file that cannot be read or removed is left for the next time, and the
 * save goes on. The set of files being written is shared by every copy of this package loaded in
 * one thread (two versions in one dependency tree), through a global symbol.
 * @internal
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** This thread's saves in progress (temporary file names), shared by every copy of the package. */
const inFlight: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('simd-optim.checkpoint.inFlight')] ??= new Set<string>()) as Set<string>;

function pidNamespace(): string {
  try {
    return fs.readlinkSync('/proc/self/ns/pid'); // "pid:[4026531836]" on Linux
  } catch {
    return ''; // no pid namespaces (macOS, Windows): the host name alone
  }
}

/** Which pids this process can judge: 8 hex digits of sha256(host name, pid namespace). */
export const origin = createHash('sha256').update(`${os.hostname()}\0${pidNamespace()}`).digest('hex').slice(0, 8);

/** A fresh temporary file name for a save to `file`, registered as in flight until `release`. */
export function acquireTemporary(file: string): string {
  const name = `.${path.basename(file)}.${origin}.${process.pid}.${threadId}.${randomBytes(6).toString('hex')}.tmp`;
  inFlight.add(name);
  return path.join(path.dirname(file), name);
}

/** Ends a save's claim on its temporary file (written, renamed, or failed). */
export function releaseTemporary(tmp: string): void {
  inFlight.delete(path.basename(tmp));
}

type Verdict = 'stale' | 'live' | 'if-old' | 'if-an-hour-old' | 'other';

/** What the name alone says of a file in the target's directory. */
function judge(name: string, base: string): Verdict {
  const prefix = `.${base}.`;
  if (!name.startsWith(prefix) || !name.endsWith('.tmp')) return 'other';
  const parts = name.slice(prefix.length, -4).split('.');
  const digits = (s: string | undefined): boolean => s !== undefined && /^\d{1,10}$/.test(s);
  if (parts.length === 4 && /^[0-9a-f]{8}$/.test(parts[0]!) && digits(parts[1]) && digits(parts[2]) && /^[0-9a-f]{12}$/.test(parts[3]!)) {
    if (parts[0] !== origin) return 'if-old';
    const pid = Number(parts[1]), thread = Number(parts[2]);
    if (pid === process.pid) return thread === threadId && !inFlight.has(name) ? 'stale' : 'if-old';
    return processGone(pid) ? 'stale' : 'if-old';
  }
  // Older versions: `<pid>.<thread>.<12 hex>` and `<pid>.<8 hex>`, with no origin.
  if ((parts.length === 3 && digits(parts[0]) && digits(parts[1]) && /^[0-9a-f]{12}$/.test(parts[2]!)) ||
      (parts.length === 2 && digits(parts[0]) && /^[0-9a-f]{8}$/.test(parts[1]!))) {
    return 'if-an-hour-old';
  }
  return 'other';
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'; // EPERM: it exists, as another user
  }
}

function removable(verdict: Verdict, modified: () => number): boolean {
  if (verdict === 'stale') return true;
  if (verdict === 'other') return false;
  const age = Date.now() - modified();
  return age > (verdict === 'if-old' ? DAY : HOUR);
}

/** Removes the temporary files of `file`'s dead writers (best-effort: errors are ignored). */
export function removeStaleTemporaries(file: string): void {
  const dir = path.dirname(file), base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return; // the save itself will report a missing or unreadable directory
  }
  for (const name of names) {
    try {
      const full = path.join(dir, name);
      if (removable(judge(name, base), () => fs.lstatSync(full).mtimeMs)) fs.rmSync(full, { force: true });
    } catch {
      // gone already, or not ours to remove: left for the next save
    }
  }
}

/** removeStaleTemporaries without blocking the event loop. */
export async function removeStaleTemporariesAsync(file: string): Promise<void> {
  const dir = path.dirname(file), base = path.basename(file);
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      const full = path.join(dir, name);
      const verdict = judge(name, base);
      if (verdict === 'other') continue;
      const modified = verdict === 'stale' ? 0 : (await fs.promises.lstat(full)).mtimeMs;
      if (removable(verdict, () => modified)) await fs.promises.rm(full, { force: true });
    } catch {
      // as above
    }
  }
}
