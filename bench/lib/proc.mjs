// /proc accounting: CPU time and memory of a process tree, of this process, and of the machine.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

let tck = 100;
try {
  tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* keep 100 */
}
export const CLK_TCK = tck;

function readStat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name is in parentheses and may contain spaces: split after the last ')'
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // rest[0] = state (field 3); ppid = field 4; utime 14, stime 15, cutime 16, cstime 17
    return {
      ppid: Number(rest[1]),
      utime: Number(rest[11]),
      stime: Number(rest[12]),
      cutime: Number(rest[13]),
      cstime: Number(rest[14]),
    };
  } catch {
    return undefined;
  }
}

/** The PID and all its descendants (scans /proc/ * /stat for parent ids). */
export function processTree(root) {
  const children = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(name);
    if (st === undefined) continue;
    const list = children.get(st.ppid);
    if (list) list.push(Number(name));
    else children.set(st.ppid, [Number(name)]);
  }
  const out = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift();
    out.push(pid);
    for (const c of children.get(pid) ?? []) queue.push(c);
  }
  return out;
}

/** CPU seconds (user+system, all threads, plus reaped children) of a list of PIDs. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const st = readStat(pid);
    if (st) ticks += st.utime + st.stime + st.cutime + st.cstime;
  }
  return ticks / CLK_TCK;
}

export function selfCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Busy CPU seconds of the whole machine (all cores) from /proc/stat: everything but idle and iowait. */
export function machineBusySeconds() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (guest is already in user)
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0);
  return busy / CLK_TCK;
}

function statusKiB(pid, key) {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export const rssKiB = (pids) => pids.reduce((a, p) => a + statusKiB(p, 'VmRSS'), 0);
export const hwmKiB = (pids) => pids.reduce((a, p) => a + statusKiB(p, 'VmHWM'), 0);

/**
 * Watches a server's process tree: the tree is re-scanned every second (cluster workers may
 * come and go), RSS is sampled every 100 ms, the highest VmHWM seen per PID is kept.
 */
export class ServerMonitor {
  constructor(rootPid) {
    this.root = rootPid;
    this.pids = processTree(rootPid);
    this.peakRssKiB = 0;
    this.hwm = new Map();
    this.lastScan = Date.now();
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
    this.sample();
  }
  sample() {
    if (Date.now() - this.lastScan > 1000) {
      this.pids = processTree(this.root);
      this.lastScan = Date.now();
    }
    this.peakRssKiB = Math.max(this.peakRssKiB, rssKiB(this.pids));
    for (const p of this.pids) this.hwm.set(p, Math.max(this.hwm.get(p) ?? 0, statusKiB(p, 'VmHWM')));
  }
  cpu() {
    this.pids = processTree(this.root);
    this.lastScan = Date.now();
    return cpuSeconds(this.pids);
  }
  /** Sum over the tree of each process's VmHWM (exact for one process, an upper bound for several). */
  hwmMiB() {
    this.sample();
    let s = 0;
    for (const v of this.hwm.values()) s += v;
    return s / 1024;
  }
  stop() {
    clearInterval(this.timer);
  }
}

/**
 * A timed section: wall time, and CPU % (100 = one core) of the server tree, of this client process
 * (including its worker threads and child processes it lists), and of every other process.
 */
export function startSection(monitor, extraClientPids = () => []) {
  const t0 = process.hrtime.bigint();
  const s0 = monitor ? monitor.cpu() : 0;
  const c0 = selfCpuSeconds();
  const m0 = machineBusySeconds();
  const x0 = cpuSeconds(extraClientPids());
  return {
    end() {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const server = monitor ? monitor.cpu() - s0 : 0;
      const client = selfCpuSeconds() - c0 + Math.max(0, cpuSeconds(extraClientPids()) - x0);
      const total = machineBusySeconds() - m0;
      const other = Math.max(0, total - server - client);
      const pct = (x) => Math.round((1000 * x) / wall) / 10;
      return {
        wall_s: wall,
        server_cpu_s: server,
        client_cpu_s: client,
        other_cpu_s: other,
        server_pct: pct(server),
        client_pct: pct(client),
        other_pct: pct(other),
        // Peak RSS of the server so far: shows in which section the run's peak was reached.
        server_hwm_mib: monitor ? Math.round(10 * monitor.hwmMiB()) / 10 : undefined,
      };
    },
  };
}
