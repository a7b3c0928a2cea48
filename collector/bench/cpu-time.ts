import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU seconds (user + system) a process has used, read from Linux's /proc; null elsewhere. The
 * benchmark divides CPU by events: CPU per event moves less than events/s with a noisy neighbour.
 */
export function processCpuSeconds(pid: number): number | null {
  try {
    // Fields after the command name (which may hold spaces) start at the state, field 3: utime is 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** CPU seconds used by every PostgreSQL server process on this machine (the local server), or null. */
export function postgresCpuSeconds(): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  let total = 0;
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue; // exited meanwhile
    }
    total += processCpuSeconds(Number(pid)) ?? 0;
  }
  return total;
}

/** Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every architecture Node runs on. */
const CLOCK_TICKS = 100;
