import { readFile } from 'node:fs/promises';
import type pg from 'pg';

/**
 * CPU time by process, read from /proc (Linux), so each scenario can say where its CPU went: the
 * server, the load generator, PostgreSQL (the postmaster's children). Elsewhere it reads nothing.
 */
const TICK_MS = 10;

/** User and system time of a process; with `reaped`, also that of its children that have exited. */
async function cpuMsOf(pid: number, reaped = false): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = (i: number) => Number(fields[i] ?? 0);
  return (at(11) + at(12) + (reaped ? at(13) + at(14) : 0)) * TICK_MS;
}

async function childrenOf(parent: number): Promise<number[]> {
  const tasks = await readFile(`/proc/${parent}/task/${parent}/children`, 'utf8').catch(() => '');
  return tasks.split(' ').filter(Boolean).map(Number);
}

/** The postmaster of the database `pool` talks to, when it runs on this machine. */
export async function postmasterOf(pool: pg.Pool): Promise<number | null> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const status = await readFile(`/proc/${rows[0]?.pid}/status`, 'utf8').catch(() => null);
  const ppid = status && /^PPid:\s+(\d+)/m.exec(status)?.[1];
  return ppid ? Number(ppid) : null;
}

export type CpuSample = { server: number; load: number; postgres: number };

export async function sampleCpu(pids: {
  server?: number;
  load?: number;
  postmaster?: number | null;
}): Promise<CpuSample> {
  const postgres = pids.postmaster
    ? (await Promise.all((await childrenOf(pids.postmaster)).map((pid) => cpuMsOf(pid)))).reduce((a, b) => a + b, 0) +
      (await cpuMsOf(pids.postmaster, true))
    : 0;
  return {
    server: pids.server ? await cpuMsOf(pids.server) : 0,
    load: pids.load ? await cpuMsOf(pids.load) : 0,
    postgres,
  };
}

/** Milliseconds of CPU per request each process spent between two samples. */
export function cpuPerRequest(before: CpuSample, after: CpuSample, requests: number): string {
  const per = (key: keyof CpuSample) => ((after[key] - before[key]) / Math.max(1, requests)).toFixed(2);
  return `CPU ms/req: server ${per('server')}, load ${per('load')}, pg ${per('postgres')}`;
}
