"""What the benchmark reads from /proc about the processes it measures.

CPU time is summed over a process tree (Squid's helpers, nginx's worker),
from the per-thread run time in /proc/PID/task/*/schedstat (nanoseconds) when
no thread exited during the window, else from utime+stime in /proc/PID/stat
(10 ms ticks, but it keeps the time of exited threads, as tinyproxy's
thread-per-connection design needs).
"""
import os

HZ = os.sysconf("SC_CLK_TCK")


def proc_tree(root):
    """Pids of root and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_sample(root):
    """(ticks total, {tid: run time ns}) over the tree of root."""
    ticks, runtime = 0, {}
    for pid in proc_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    runtime[int(tid)] = int(f.read().split()[0])
        except OSError:
            continue
    return ticks, runtime


def cpu_seconds(before, after):
    """CPU seconds the tree used between two cpu_sample()s."""
    by_ticks = (after[0] - before[0]) / HZ
    by_ns = sum(ns - before[1].get(tid, 0) for tid, ns in after[1].items()) / 1e9
    # Threads that exited took their run time with them: the ticks still
    # count it, so trust the precise figure only when it is not short.
    return by_ticks if by_ticks - by_ns > 2.0 / HZ else by_ns


def rss_kib(root):
    """Resident memory of the tree, KiB."""
    total = 0
    for pid in proc_tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def fd_count(root):
    """Open descriptors of the tree."""
    total = 0
    for pid in proc_tree(root):
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return total


def machine_busy():
    """Busy seconds of all CPUs so far (user..steal, without idle, iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / HZ
