"""Peak memory of a whole process tree, by polling /proc (issue 20, point 5).

``wait4`` gives one process's peak RSS (``ru_maxrss``: the largest of the child and the
children it reaped, never their sum), so a ``tapaudit replay --jobs N`` or an nfstream with
its meter processes would be under-reported. A cgroup's ``memory.peak`` would be exact, but
this machine mounts cgroup v1, whose ``memory.max_usage_in_bytes`` (like v2's ``memory.peak``)
also charges the page cache of the capture being read, i.e. the file's size, not the
program's memory. So a thread polls ``/proc/PID/status`` (proc(5)) of every process whose
parent chain leads to the child:

- ``peak_rss``: the largest sum of ``VmRSS`` over the tree seen at one poll (what the tree
  held at once; a spike shorter than the interval can be missed; pages shared after a fork
  are counted in each process, so this is an upper bound of the memory used);
- ``peak_anon``: the same for ``RssAnon`` (the heap: no mapped capture or library pages);
- ``peak_pss``: the largest sum of ``Pss`` (``/proc/PID/smaps_rollup``: each page shared by k
  processes counted 1/k in each) over the tree at one poll: the memory the tree held at once,
  pages a forked worker shares with its parent (the embedded ClickHouse library, the lookups
  loaded before the fork) counted once;
- ``hwm_sum``: the sum over the processes of each one's own peak (``VmHWM``, kept by the
  kernel, read at the last poll before the process ended): "every worker at its peak at
  the same time", the bound to hold against a memory budget.

Descendants are found by scanning ``/proc/*/stat`` for parent ids (this kernel has no
``/proc/PID/task/TID/children``) every ``rescan`` seconds; known ones are read every
``interval`` seconds.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

_FIELDS = {b"VmRSS:": "rss", b"VmHWM:": "hwm", b"RssAnon:": "anon"}


@dataclass
class TreePeak:
    """What the poller saw of one process tree, in KiB."""

    peak_rss: int = 0
    peak_anon: int = 0
    peak_pss: int = 0
    hwm: dict[int, int] = field(default_factory=dict)
    processes: int = 0
    polls: int = 0

    @property
    def hwm_sum(self) -> int:
        return sum(self.hwm.values())


def _status(pid: int) -> dict[str, int] | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            text = f.read()
    except OSError:
        return None
    out: dict[str, int] = {}
    for line in text.splitlines():
        key = _FIELDS.get(line.split(maxsplit=1)[0] if line else b"")
        if key:
            out[key] = int(line.split()[1])
    return out


def _pss(pid: int) -> int:
    """The process's proportional set size in KiB (0 when gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (proc(5): ``stat`` field 4, after the ``(comm)``)."""
    out: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        out[int(name)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
    return out


def descendants(root: int) -> set[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


class TreePoller:
    """Polls the tree under ``pid`` in a daemon thread from ``start()`` to ``stop()``."""

    def __init__(self, pid: int, interval: float = 0.05, rescan: float = 0.25, pss: bool = False) -> None:
        self.pid, self.interval, self.rescan, self.pss = pid, interval, rescan, pss
        self.peak = TreePeak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._seen: set[int] = set()

    def start(self) -> TreePoller:
        self._thread.start()
        return self

    def stop(self) -> TreePeak:
        self._stop.set()
        self._thread.join()
        self.peak.processes = len(self._seen)
        return self.peak

    def _run(self) -> None:
        tree = {self.pid}
        every = max(1, round(self.rescan / self.interval))
        while not self._stop.is_set():
            if self.peak.polls % every == 0:
                tree = descendants(self.pid) or tree
            self._poll(tree)
            self._stop.wait(self.interval)

    def _poll(self, tree: set[int]) -> None:
        rss = anon = pss = 0
        for pid in tree:
            st = _status(pid)
            if not st or "rss" not in st:  # gone, or a zombie (no memory lines)
                continue
            self._seen.add(pid)
            rss += st["rss"]
            anon += st.get("anon", 0)
            if self.pss:
                pss += _pss(pid)
            self.peak.hwm[pid] = max(self.peak.hwm.get(pid, 0), st.get("hwm", 0))
        self.peak.polls += 1
        self.peak.peak_rss = max(self.peak.peak_rss, rss)
        self.peak.peak_anon = max(self.peak.peak_anon, anon)
        self.peak.peak_pss = max(self.peak.peak_pss, pss)
