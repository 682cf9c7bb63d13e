"""``bash tools/dist_train.sh CONFIG 2`` on CPU (gloo) runs to completion."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmfusion.testing import free_port
from mmfusion.utils.checkpoint import load_checkpoint_file


@pytest.mark.slow
def test_dist_train_demo_two_processes(repo_root, msrs_mini, tmp_path):
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1')
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    cmd = [
        'bash', 'tools/dist_train.sh',
        'configs/seafusion/seafusion_content_demo.py', '2', '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_iters=4',
        'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4',
        'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
        f'val_dataloader.dataset.data_root={msrs_mini}',
        'val_dataloader.dataset.indices=2'
    ]
    proc = subprocess.run(
        cmd,
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt = load_checkpoint_file(
        str(tmp_path / 'iter_4.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    # 2 images validated (the DistributedSampler pads to a multiple of 2)
    fused = os.listdir(tmp_path / 'fused' / 'val' / 'iter_4')
    first_two = sorted(os.listdir(osp.join(msrs_mini, 'test', 'ir')))[:2]
    assert sorted(fused) == first_two
    log_file = glob.glob(str(tmp_path / '*' / '*.log'))[0]
    log = open(log_file).read()
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
