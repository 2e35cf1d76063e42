// A long-running process the suite starts, logs to a file, and stops again by its own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface Daemon {
  name: string;
  pid: number;
  logFile: string;
  /** True once the process has exited. */
  exited(): boolean;
  /** The last `max` characters of its log. */
  logTail(max?: number): string;
  /**
   * SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited, with true when SIGTERM
   * alone was enough (or it had already exited). Safe to call twice.
   */
  stop(graceMs?: number): Promise<boolean>;
}

/** Daemons started by this process and not yet exited: the last-resort cleanup below kills them. */
const live = new Set<ChildProcess>();
let guarded = false;

/**
 * If the test process ends before its `after` hooks ran (uncaught error, Ctrl-C, the runner's
 * SIGTERM), the daemons it started are killed by pid rather than left running.
 */
function guardExit(): void {
  if (guarded) return;
  guarded = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of live) c.kill('SIGTERM');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export function spawnDaemon(name: string, cmd: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Daemon {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { env, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  guardExit();
  live.add(child);
  let done = false;
  const exitedPromise = new Promise<void>((resolve) => {
    const onEnd = (): void => {
      done = true;
      live.delete(child);
      resolve();
    };
    child.on('exit', onEnd);
    child.on('error', onEnd);
  });
  const logTail = (max = 3000): string => {
    try {
      const text = readFileSync(logFile, 'utf8').trim();
      return text.length <= max ? text : `…${text.slice(-max)}`;
    } catch {
      return '';
    }
  };
  return {
    name,
    pid,
    logFile,
    exited: () => done,
    logTail,
    async stop(graceMs = 15_000): Promise<boolean> {
      if (done) return true;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      });
      const exitedInTime = await Promise.race([exitedPromise.then(() => true), graceOver]);
      clearTimeout(timer);
      if (exitedInTime || done) return true;
      child.kill('SIGKILL');
      await exitedPromise;
      return false;
    },
  };
}
