#!/usr/bin/env python3
"""Run a command and write what it cost as one JSON object (helper for bench/kernel.sh, tls.sh).

    measure.py RESULT.json -- CMD [ARGS...]

RESULT.json gets:
  wall_s             wall time from fork to exit
  tree_cpu_s         user+sys of CMD and every descendant it reaped (wait4's rusage)
  self_cpu_s         user+sys of CMD's own process only (all its threads, no children),
                     read exactly from /proc/PID/stat (fields 14, 15) while CMD is a zombie:
                     the child is waited for with WNOWAIT, so its final counters are still
                     readable, then reaped
  children_cpu_s     cutime+cstime (fields 16, 17) at that moment
  tree_maxrss_kib    the largest peak RSS among CMD and the descendants it reaped (wait4's
                     ru_maxrss, what `/usr/bin/time -f %M` prints)
  self_hwm_kib       CMD's own peak RSS (VmHWM of /proc/PID/status), the last value read by a
                     thread that polls it every 10 ms until CMD exits (VmHWM only grows, and a
                     zombie has none: a peak reached in CMD's last 10 ms can be missed; compare
                     with tree_maxrss_kib, exact, when CMD's children are small)
  exit_code

Exit status is CMD's.
"""
import json
import os
import sys
import threading
import time


def poll_hwm(pid: int, out: list, done: threading.Event) -> None:
    path = f"/proc/{pid}/status"
    while not done.is_set():
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        out[0] = max(out[0], int(line.split()[1]))
                        break
        except OSError:
            return
        done.wait(0.01)


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    result, cmd = sys.argv[1], sys.argv[3:]
    tick = os.sysconf("SC_CLK_TCK")
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    hwm, done = [0], threading.Event()
    poller = threading.Thread(target=poll_hwm, args=(pid, hwm, done), daemon=True)
    poller.start()
    # Wait for the exit without reaping: the zombie keeps its final CPU counters.
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            break
        except InterruptedError:
            continue
    wall = time.monotonic() - start
    done.set()
    poller.join()
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    utime, stime, cutime, cstime = (int(x) / tick for x in fields[11:15])
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as f:
        json.dump(
            {
                "wall_s": wall,
                "tree_cpu_s": usage.ru_utime + usage.ru_stime,
                "self_cpu_s": utime + stime,
                "self_user_s": utime,
                "self_sys_s": stime,
                "children_cpu_s": cutime + cstime,
                "tree_maxrss_kib": usage.ru_maxrss,
                "self_hwm_kib": hwm[0],
                "exit_code": code,
            },
            f,
        )
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
