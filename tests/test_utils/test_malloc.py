# Copyright (c) mmfusion contributors. All rights reserved.
"""``keep_freed_memory``: the opt-in glibc tuning, measured by what it is
for (page faults of memory freed and allocated again), in fresh
processes."""
import json
import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(
    platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc',
    reason='glibc malloc tuning')

PROBE = r'''
import ctypes, json, resource
# 4 KiB pages whatever the host's transparent-huge-page setting
# (PR_SET_THP_DISABLE), so that faults count pages
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)
import torch
from mmfusion.utils.malloc import keep_freed_memory
applied = keep_freed_memory()

def round_():  # a "step": 24 blocks of 10 MiB allocated, then all freed
    blocks = [torch.ones(10 << 18) for _ in range(24)]
    del blocks

round_()
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    round_()
print(json.dumps(dict(
    applied=applied,
    faults=resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)))
'''


def _probe(env):
    environ = {
        k: v
        for k, v in os.environ.items()
        if k != 'MMFUSION_KEEP_FREED_MEMORY' and not k.startswith('MALLOC_')
    }
    if env is not None:
        environ['MMFUSION_KEEP_FREED_MEMORY'] = env
    out = subprocess.run([sys.executable, '-c', PROBE],
                         env=environ,
                         capture_output=True,
                         text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc
def test_keep_freed_memory_is_opt_in_and_stops_the_page_faults():
    pages = 3 * 24 * (10 << 20) // 4096  # what 3 rounds touch
    offs = []
    for env in (None, '0'):  # the default: the allocator left alone
        off = _probe(env)
        assert not off['applied']
        # glibc gives the freed 240 MiB back after a round and faults it in
        # again (every round when the machine is idle; at least one when
        # busy)
        assert off['faults'] > pages // 6, (env, off)
        offs.append(off['faults'])
    on = _probe('1')  # MMFUSION_KEEP_FREED_MEMORY=1: kept, reused
    assert on['applied'] and on['faults'] < min(offs) // 10, (on, offs)
