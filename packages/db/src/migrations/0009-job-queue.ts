export const sql = /* sql */ `
-- Each graphile-worker pool says here that it is alive; the locks of a pool silent for a lease are
-- released so its jobs run again (graphile-worker alone would wait four hours). Our own jobs
-- table goes once its pending jobs are in graphile-worker's (see job-queue.ts).
CREATE TABLE job_worker_heartbeats (
  worker_id text PRIMARY KEY,
  beat_at timestamptz NOT NULL
);
`;
