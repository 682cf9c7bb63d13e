"""tools/misc/print_config.py on a shipped config with an override."""
import os.path as osp
import subprocess
import sys

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'misc', 'print_config.py')
CONFIG = osp.join(REPO, 'configs', 'tdfusion', 'deeplab_msrs.py')


def test_print_config_with_override(tmp_path):
    saved = tmp_path / 'resolved.py'
    out = subprocess.run([
        sys.executable, TOOL, CONFIG, '--cfg-options',
        'train_dataloader.batch_size=7', 'model.task.input_format=y',
        '--save-path',
        str(saved)
    ],
                         cwd=REPO,
                         capture_output=True,
                         text=True,
                         check=True).stdout
    assert out.startswith('Config:\n')
    # inherited from segformer_msrs.py and its bases, then the override
    assert "type='TDFusion'" in out
    assert 'deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py' in out
    assert "input_format='y'" in out
    cfg = Config.fromfile(str(saved))
    assert cfg.train_dataloader.batch_size == 7
    assert cfg.model.task.input_format == 'y'
    assert cfg.model.task.type == 'TaskAdapter'
