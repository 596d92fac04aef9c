import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A summary of a V8 CPU profile (`node --cpu-prof`) cut to a window of its monotonic clock: how much
 * of the window the main thread was busy, where that time went by package or source file, and the
 * functions that took the most of it themselves.
 */
type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type CpuProfile = { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] };

export type ProfileSummary = {
  windowMs: number;
  busyMs: number;
  /** Busy main-thread milliseconds per request answered in the window. */
  busyMsPerRequest: number;
  /** Share of busy time by package or source area, largest first. */
  byArea: { area: string; ms: number; share: number }[];
  /** Functions by their own (self) time, largest first. */
  topFunctions: { fn: string; area: string; ms: number; share: number }[];
};

const OURS = `${path.sep}apps${path.sep}server${path.sep}src${path.sep}`;

/** Which package, or which part of ours, a function belongs to. */
function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  const file = url.replace(/^file:\/\//, '');
  const ours = file.indexOf(OURS);
  if (ours >= 0)
    return `boxoffice ${
      file
        .slice(ours + OURS.length)
        .split(path.sep)
        .slice(0, -1)
        .join('/') || '.'
    }`;
  const workspace = /\/packages\/([^/]+)\//.exec(file);
  if (workspace) return `@boxoffice/${workspace[1]}`;
  return path.basename(file);
}

export async function summarizeProfile(
  file: string,
  window: { fromUs: number; toUs: number },
  requests: number,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < window.fromUs || t > window.toUs) continue;
    windowUs += delta;
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, { area: string; us: number }>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    if (frame.functionName === '(idle)') continue;
    busyUs += us;
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = frame.url ? `${path.basename(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    const entry = functions.get(key) ?? { area, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const ms = (us: number) => Math.round(us / 100) / 10;
  const share = (us: number) => (busyUs ? Math.round((us / busyUs) * 1000) / 10 : 0);
  return {
    windowMs: ms(windowUs),
    busyMs: ms(busyUs),
    busyMsPerRequest: requests ? Math.round((busyUs / requests / 1000) * 1000) / 1000 : 0,
    byArea: [...areas]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 16)
      .map(([area, us]) => ({ area, ms: ms(us), share: share(us) })),
    topFunctions: [...functions]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, Number(process.env.TOP ?? 15))
      .map(([fn, { area, us }]) => ({ fn, area, ms: ms(us), share: share(us) })),
  };
}

/** The profile a process wrote into `dir` (`--cpu-prof-dir`), newest first. */
export async function profilesIn(dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile')).sort();
  return files.reverse().map((name) => path.join(dir, name));
}

export function printProfile(title: string, summary: ProfileSummary, write: (line: string) => void = console.log) {
  write(
    `${title}: ${summary.busyMs} ms busy of ${summary.windowMs} ms (${Math.round((summary.busyMs / summary.windowMs) * 100)}% of one core), ` +
      `${summary.busyMsPerRequest} ms per request`,
  );
  write('  by area:');
  for (const row of summary.byArea)
    write(`    ${row.share.toFixed(1).padStart(5)}%  ${row.ms.toFixed(0).padStart(6)} ms  ${row.area}`);
  write('  top functions (self time):');
  for (const row of summary.topFunctions)
    write(`    ${row.share.toFixed(1).padStart(5)}%  ${row.ms.toFixed(0).padStart(6)} ms  ${row.fn}  [${row.area}]`);
}
