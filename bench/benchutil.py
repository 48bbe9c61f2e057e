"""What the benchmarks in bench/ share: a free loopback port, and a
process's CPU time (utime + stime from /proc/PID/stat)."""
import os
import socket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def threads_usage(pid):
    """{thread name: (CPU seconds, bytes read by system calls)} of pid's
    threads, summed over threads of one name; threads gone are left out."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                head, tail = f.read().rsplit(")", 1)
            name = head.split("(", 1)[1]
            fields = tail.split()
            with open("/proc/%d/task/%s/io" % (pid, tid)) as f:
                rchar = int(next(line for line in f if line.startswith("rchar:")).split()[1])
        except (OSError, StopIteration):
            continue
        cpu, read = out.get(name, (0.0, 0))
        out[name] = (cpu + (int(fields[11]) + int(fields[12])) / tick, read + rchar)
    return out


def cpu_s(pid):
    """CPU seconds pid has used so far (clock ticks, so 10 ms steps)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
