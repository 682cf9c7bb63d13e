# Copyright (c) mmfusion contributors. All rights reserved.
"""Wall time of the experiment's stages, the progress line with an estimate
of what is left, and the unit locks that let several processes share one
experiment."""
import contextlib
import os
import os.path as osp
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

try:
    import fcntl
except ImportError:  # Windows: one process per experiment
    fcntl = None

from ..task_driven.identity import write_json

__all__ = ['TIMINGS_FILE', 'LOCK_DIR', 'Progress', 'Unit', 'format_seconds']

#: the measured wall time of every unit, in the experiment's work dir
TIMINGS_FILE = 'timings.json'
#: the unit locks of the processes sharing an experiment, in its work dir
LOCK_DIR = '.locks'


def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return '?'
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f'{h}:{rest // 60:02d}:{rest % 60:02d}'


#: one unit of work for :meth:`Progress.run_all`: ``(key, kind, label, fn,
#: args)``
Unit = Tuple[str, str, str, Callable, tuple]


class Progress:
    """Times the units of work (a training, a task run, ...) and logs, after
    each, ``[done/planned] label: seconds | elapsed | left ~ estimate``.

    The seconds of every unit that did work are kept in ``timings_file``
    (a unit found done keeps the time it took when it ran). The estimate of
    a unit not yet done is the mean measured time of the units of its kind
    (e.g. the same method's trainings under other seeds, all task runs);
    units of a kind never measured are counted apart.

    With ``lock_dir``, a unit runs under an exclusive lock (``flock`` on
    ``lock_dir/<key>.lock``, released by the kernel if the process dies), so
    that several processes running the same experiment share its units: a
    unit another process holds is left for later and the next one taken;
    at the end of the sequence the process waits for the units it left and
    reads their results (their functions find them done). Without ``fcntl``
    (Windows) units are not locked: run one process per experiment.

    Args:
        timings_file: JSON file of ``{key: seconds}``.
        log: where the progress lines go.
        after: called (no arguments) after every unit, e.g. to save the
            experiment's state.
        lock_dir: where the unit locks live; ``None``: no locks.
    """

    def __init__(self,
                 timings_file: str,
                 log: Callable[[str], None],
                 after: Optional[Callable[[], None]] = None,
                 lock_dir: Optional[str] = None):
        self.timings_file = timings_file
        self.log = log
        self.after = after
        self.lock_dir = lock_dir if fcntl is not None else None
        self.timings: Dict[str, float] = self._read()
        self.kinds: Dict[str, str] = {}
        self.plan: List[Tuple[str, str]] = []
        self.done: set = set()
        self.start = time.time()
        self._nested = 0.0  # seconds spent in run() calls so far

    def _read(self) -> Dict[str, float]:
        import json
        if not osp.isfile(self.timings_file):
            return {}
        with open(self.timings_file) as f:
            return json.load(f)

    def add(self, units: Sequence[Tuple[str, str]]) -> None:
        """Plan units ``(key, kind)`` (in the order they will run)."""
        for key, kind in units:
            if key not in self.kinds:
                self.plan.append((key, kind))
            self.kinds[key] = kind

    def drop(self, keys: Sequence[str]) -> None:
        """Unplan units that will not run (e.g. an input left out)."""
        self.plan = [(k, c) for k, c in self.plan if k not in keys]

    def estimate(self, key: str) -> Optional[float]:
        """Seconds a unit not yet run is expected to take: 0 when it ran
        before (its result is reused), else the mean of its kind, else
        ``None``."""
        if key in self.timings:
            return 0.0
        kind = self.kinds.get(key)
        same = [
            v for k, v in self.timings.items()
            if self.kinds.get(k) == kind or k.rsplit('/', 1)[0] == kind
        ]
        return sum(same) / len(same) if same else None

    def left(self) -> Tuple[float, int]:
        """(estimated seconds, units of an unmeasured kind) still to run."""
        total, unknown = 0.0, 0
        for key, _ in self.plan:
            if key in self.done:
                continue
            est = self.estimate(key)
            if est is None:
                unknown += 1
            else:
                total += est
        return total, unknown

    @contextlib.contextmanager
    def lock(self, key: str, wait: bool = True):
        """Hold the lock of ``key`` (any name: a unit's key, a file) for
        the ``with`` block; yields whether it is held (always ``True`` when
        ``wait`` or without locks). A file system without ``flock`` support
        (some network file systems) runs without locks, with a warning."""
        if self.lock_dir is None:
            yield True
            return
        os.makedirs(self.lock_dir, exist_ok=True)
        path = osp.join(self.lock_dir, key.replace('/', '__') + '.lock')
        with open(path, 'a') as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            except OSError as e:
                self.log(f'unit locks unavailable in {self.lock_dir} ({e}): '
                         'run one process per experiment')
                self.lock_dir = None
                yield True
                return
            try:
                yield True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def run(self, key: str, kind: str, label: str, fn, *args, **kwargs):
        """Run ``fn(*args, **kwargs)``, which returns ``(result, worked)``;
        record its time if it worked (or was never timed) and log the
        progress line. Returns ``result``. With locks, waits while another
        process holds the unit."""
        self.add([(key, kind)])
        start = time.time()
        try:
            with self.lock(key, wait=False) as held:
                if held:
                    return self._run(key, label, fn, args, kwargs)
            self.log(f'{label}: another process is on it; waiting for it')
            with self.lock(key, wait=True):
                return self._run(key, label, fn, args, kwargs, waited=True)
        finally:
            # (a unit that runs this one inside, e.g. a method waiting for
            # its warm-up, does not count it as its own time)
            self._nested += time.time() - start

    def run_all(self, units: Sequence[Unit]) -> list:
        """:meth:`run` every unit ``(key, kind, label, fn, args)`` in
        order, except that a unit another process holds is left until the
        others are done. Returns the results in the order of ``units``."""
        self.add([(u[0], u[1]) for u in units])
        results: Dict[int, object] = {}
        left = []
        for i, (key, _, label, fn, args) in enumerate(units):
            with self.lock(key, wait=False) as held:
                if held:
                    results[i] = self._run(key, label, fn, args, {})
                    continue
            left.append(i)
            self.log(f'{label}: another process is on it; left for later')
        for i in left:
            key, _, label, fn, args = units[i]
            with self.lock(key, wait=True):
                results[i] = self._run(key, label, fn, args, {}, waited=True)
        return [results[i] for i in range(len(units))]

    def _run(self, key: str, label: str, fn, args, kwargs, waited=False):
        start, nested = time.time(), self._nested
        result, worked = fn(*args, **kwargs)
        spent = time.time() - start - (self._nested - nested)
        # (re-read: another process may have recorded other units, or this
        # one, which then keeps the time it took there: a unit run again
        # after waiting for another process was that process's work)
        with self.lock(TIMINGS_FILE, wait=True):
            self.timings.update(self._read())
            if (worked and not waited) or key not in self.timings:
                self.timings[key] = round(spent, 1)
                write_json(self.timings_file, self.timings)
        self.done.add(key)
        left, unknown = self.left()
        index = [k for k, _ in self.plan].index(key) + 1
        self.log(
            f'[{index}/{len(self.plan)}] {label}: {spent:.0f} s' +
            ('' if worked else ' (done before)') +
            f' | elapsed {format_seconds(time.time() - self.start)}'
            f' | left ~{format_seconds(left)}' +
            (f' + {unknown} stage(s) not yet measured' if unknown else ''))
        if self.after is not None:
            self.after()
        return result
