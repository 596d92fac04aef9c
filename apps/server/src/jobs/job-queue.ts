import type { EntityManager } from '@boxoffice/db';
import { jobTasks, type TaskName, type TaskPayload } from './tasks.ts';

export type ScheduleOptions = {
  /** When the job becomes due, by the server's Clock. */
  runAt: Date;
  /**
   * Makes the job one of its kind: keys are per task, so one booking can have an `expire-hold`
   * and a `reconcile-payment` job under the same key.
   */
  jobKey?: string;
};

/**
 * Schedules a job in the caller's transaction (graphile-worker's `add_job` on the EntityManager's
 * connection), so the job exists exactly when the change that needs it commits.
 *
 * With a job key, scheduling again is one job: a job still waiting takes the new run time and
 * payload (`replace` mode); a job already running keeps running, and graphile-worker queues a new
 * one under the key, so the change that scheduled it again is acted on. The new one may start
 * before the running one ends: handlers are idempotent and take row locks.
 *
 * The payload is checked against the task's schema here, and again before it runs.
 */
export async function scheduleJob<T extends TaskName>(
  em: EntityManager,
  task: T,
  payload: TaskPayload<T>,
  opts: ScheduleOptions,
): Promise<{ jobId: string }> {
  const spec = jobTasks[task];
  const data = spec.payload.parse(payload);
  const rows = await em.execute<{ id: string }[]>(
    `SELECT id::text AS id FROM graphile_worker.add_job(?, ?::json,
       run_at => ?::timestamptz, max_attempts => ?, job_key => ?, job_key_mode => 'replace')`,
    [
      task,
      JSON.stringify(data),
      opts.runAt,
      spec.maxAttempts,
      opts.jobKey === undefined ? null : `${task}:${opts.jobKey}`,
    ],
  );
  const id = rows[0]?.id;
  if (!id) throw new Error(`graphile_worker.add_job returned no job for ${task}`);
  return { jobId: id };
}

/**
 * One job as graphile-worker's `job_spec` (for `add_jobs`, which adds many in one statement), with
 * the same checks, job key and attempts as `scheduleJob`.
 */
export function jobSpec<T extends TaskName>(task: T, payload: TaskPayload<T>, opts: ScheduleOptions) {
  const spec = jobTasks[task];
  return {
    identifier: task,
    payload: spec.payload.parse(payload),
    run_at: opts.runAt.toISOString(),
    max_attempts: spec.maxAttempts,
    job_key: opts.jobKey === undefined ? null : `${task}:${opts.jobKey}`,
  };
}

/** The object form of `scheduleJob`: `queue` names the task, `dedupeKey` is the job key. */
export async function enqueueJob<T extends TaskName>(
  em: EntityManager,
  job: { queue: T; payload: TaskPayload<T>; runAt: Date; dedupeKey?: string },
): Promise<void> {
  await scheduleJob(em, job.queue, job.payload, { runAt: job.runAt, jobKey: job.dedupeKey });
}
