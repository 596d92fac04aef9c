import { type ChildProcess, fork } from 'node:child_process';
import { openSync } from 'node:fs';

/**
 * The benchmark's processes talk over Node's IPC channel: the parent sends `{ id, task, ... }`,
 * the child answers `{ id, result }` or `{ id, error }`, and may send `{ progress }` meanwhile.
 * Load, server and ceilings each run in a process of their own, so one's CPU is never counted
 * against another.
 */
export type Progress = { done: number; total: number };

type Answer = { id: number; result?: unknown; error?: string } | { progress: Progress } | { ready: true };

export type Child = {
  process: ChildProcess;
  call<T>(task: string, args?: Record<string, unknown>, onProgress?: (progress: Progress) => void): Promise<T>;
  /** Resolves once the child is ready for tasks (it says so), rejects if it exits first. */
  ready: Promise<void>;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
};

export function forkChild(file: string, opts: { env?: NodeJS.ProcessEnv; execArgv?: string[]; log: string }): Child {
  const out = openSync(opts.log, 'a');
  const child = fork(file, [], {
    env: opts.env ?? process.env,
    execArgv: opts.execArgv ?? [],
    stdio: ['ignore', out, out, 'ipc'],
    serialization: 'advanced',
  });
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let onProgress: ((progress: Progress) => void) | undefined;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    child.on('exit', (code) => reject(new Error(`${file} exited (${code}) while starting; see ${opts.log}`)));
  });
  ready.catch(() => {});
  child.on('message', (message: Answer) => {
    if ('ready' in message) {
      markReady();
      return;
    }
    if ('progress' in message) {
      onProgress?.(message.progress);
      return;
    }
    const waiting = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiting?.reject(new Error(message.error));
    else waiting?.resolve(message.result);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      for (const waiting of pending.values())
        waiting.reject(new Error(`${file} exited (${code}) before answering; see ${opts.log}`));
      pending.clear();
      resolve(code);
    });
  });
  return {
    process: child,
    ready,
    exited,
    call<T>(task: string, args: Record<string, unknown> = {}, progress?: (p: Progress) => void) {
      const id = next++;
      onProgress = progress;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, task, ...args });
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ id: next++, task: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The child's side: runs each task it is sent and answers it; tells the parent it is ready. */
export function serveTasks(tasks: Record<string, (args: Record<string, unknown>) => Promise<unknown>>): void {
  process.on('message', async (message: { id: number; task: string } & Record<string, unknown>) => {
    if (message.task === 'exit') {
      await tasks.exit?.(message);
      process.exit(0);
    }
    const run = tasks[message.task];
    try {
      if (!run) throw new Error(`no task ${message.task}`);
      process.send?.({ id: message.id, result: await run(message) });
    } catch (error) {
      process.send?.({
        id: message.id,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
  });
  process.send?.({ ready: true });
}

export function reportProgress(progress: Progress): void {
  process.send?.({ progress });
}
