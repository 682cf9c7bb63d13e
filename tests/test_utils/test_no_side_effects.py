"""``import mmfusion`` changes nothing outside mmfusion (issue 24): in a fresh
interpreter, every attribute of the loaded mmengine/mmseg/mmdet modules (and
of their classes) is the same object after importing mmfusion, building a
TaskAdapter and training/resuming a FusionRunner from an mmfusion config;
torch's safe-globals allow-list, the import machinery and copyreg are as
they were; and a plain mmengine Runner in that process saves and resumes
exactly as in a process without mmfusion."""
import json
import os.path as osp
import subprocess
import sys

import pytest

PROBE = osp.join(osp.dirname(osp.abspath(__file__)), 'side_effect_probe.py')


def _probe(*args) -> dict:
    res = subprocess.run([sys.executable, PROBE, *map(str, args)],
                         capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    line = [x for x in res.stdout.splitlines() if x.startswith('PROBE ')]
    return json.loads(line[-1][len('PROBE '):])


@pytest.mark.slow
def test_import_mmfusion_changes_nothing_outside(repo_root, msrs_mini,
                                                 tmp_path):
    with_mmfusion = _probe('mmfusion', tmp_path / 'a', repo_root, msrs_mini)
    assert with_mmfusion['recorded'] > 10000  # mmengine+mmseg+mmdet walked
    assert with_mmfusion['mmfusion'] == dict(
        loss='MaskedClassWeightCrossEntropyLoss',  # the adapter's own loss
        finite=True,  # on a label map with ignored (255) pixels
        runner='FusionRunner',  # the config's runner_type
        resumed_to=2)
    assert with_mmfusion['changed'] == []
    assert with_mmfusion['process'] == []
    without = _probe('plain', tmp_path / 'b')
    for mode in ('plain_wo', 'plain_nowo'):
        assert with_mmfusion[mode] == without[mode], mode
    # what "exactly as without" means on this stack: the checkpoints of a
    # plain Runner are mmengine's own (its HistoryBuffer pickled through
    # builtins.getattr), and on torch >= 2.6 its resume fails the same way
    # unless the user turns the safe loader off
    plain = without['plain_nowo']
    assert plain['resume']['iter'] == 3
    assert 'builtins.getattr' in plain['iter_2.pth']['globals']
    if isinstance(without['plain_wo']['resume'], str):
        assert without['plain_wo']['resume'].startswith('UnpicklingError')
