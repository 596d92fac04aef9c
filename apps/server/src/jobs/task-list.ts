import { type Job, type Task, type TaskList, Logger as WorkerLogger } from 'graphile-worker';
import type { Logger } from '../logger.ts';
import {
  type JobHandler,
  type JobHandlers,
  jobTasks,
  type ParsedTaskPayload,
  type TaskName,
  taskNames,
} from './tasks.ts';

/**
 * graphile-worker's task list from our handlers. Each payload is checked against its task's schema
 * before the handler sees it: a payload that does not fit can never succeed, so instead of being
 * retried for days the job is dropped (completes without effect) with an error in the log.
 */
export function buildTaskList(handlers: JobHandlers, log: Logger, onRun: () => void = () => {}): TaskList {
  const list: TaskList = {};
  for (const name of taskNames) list[name] = validated(name, handlers[name] as JobHandler<typeof name>, log, onRun);
  return list;
}

function validated<T extends TaskName>(name: T, handler: JobHandler<T>, log: Logger, onRun: () => void): Task {
  const schema = jobTasks[name].payload;
  return async (payload, helpers) => {
    onRun();
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      log.error(
        { task: name, jobId: helpers.job.id, payload, issues: parsed.error.issues },
        'job payload does not match its task: dropped without running',
      );
      return;
    }
    await handler(parsed.data as ParsedTaskPayload<T>, {
      id: helpers.job.id,
      attempts: helpers.job.attempts,
      maxAttempts: helpers.job.max_attempts,
    });
  };
}

type WorkerLogScope = { label?: string; workerId?: string; taskIdentifier?: string; jobId?: string };

/** graphile-worker's messages in our log: a failed attempt as a warning (the last one as an error), chatter as debug. */
export function workerLogger(log: Logger): WorkerLogger {
  return new WorkerLogger((rawScope) => (level, message, meta) => {
    const scope = rawScope as WorkerLogScope;
    if (meta.failure) {
      const job = meta.job as Job | undefined;
      const fields = {
        err: meta.error,
        jobId: job?.id,
        task: job?.task_identifier,
        attempts: job?.attempts,
        maxAttempts: job?.max_attempts,
      };
      if (job && job.attempts >= job.max_attempts) log.error(fields, 'job failed for the last time');
      else log.warn(fields, 'job failed; it will be retried');
      return;
    }
    const fields = { worker: scope.workerId, task: scope.taskIdentifier, jobId: scope.jobId };
    if (level === 'error') log.error(fields, message);
    else if (level === 'warning') log.warn(fields, message);
    else log.debug(fields, message);
  });
}
