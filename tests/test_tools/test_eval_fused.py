# Copyright (c) mmfusion contributors. All rights reserved.
"""tools/analysis_tools/eval_fused.py on real fused images: reports, plots,
several methods side by side, and bad input."""
import csv
import importlib.util
import json
import os
import os.path as osp

import cv2
import pytest

# test pairs with official SeAFusion results in both the shared and the
# bundled reference (tests/conftest.py)
NAMES = ('00036N', '00357D', '00927N')


def _tool(repo_root):
    spec = importlib.util.spec_from_file_location(
        'eval_fused_tool',
        osp.join(repo_root, 'tools', 'analysis_tools', 'eval_fused.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def folders(msrs_mini, seafusion_ref, tmp_path):
    """Three pairs; method 'seafusion' (official results) and method 'ir'
    (the IR images as fused images, one of them missing)."""
    dirs = {k: tmp_path / k for k in ('ir', 'vi', 'seafusion', 'ir_copy')}
    for d in dirs.values():
        d.mkdir()
    for n in NAMES:
        for modality in ('ir', 'vi'):
            os.symlink(
                osp.join(msrs_mini, 'test', modality, n + '.png'),
                dirs[modality] / (n + '.png'))
        os.symlink(
            osp.join(seafusion_ref, 'fused', n + '.png'),
            dirs['seafusion'] / (n + '.png'))
    for n in NAMES[:2]:
        os.symlink(
            osp.join(msrs_mini, 'test', 'ir', n + '.png'),
            dirs['ir_copy'] / (n + '.png'))
    return dirs


def _args(folders, out, *extra):
    return [
        '--fused', f'SeAFusion={folders["seafusion"]}', '--ir',
        str(folders['ir']), '--vi',
        str(folders['vi']), '--out-dir',
        str(out), '--no-progress', *extra
    ]


def test_report_matches_the_de_facto_evaluator(repo_root, folders,
                                               seafusion_ref, tmp_path):
    tool = _tool(repo_root)
    out = tmp_path / 'report'
    assert tool.main(
        _args(folders, out, '--with-sources', '--metrics',
              'EN,VIF,Qabf,SSIM,MI,Nabf')) == 0
    with open(osp.join(seafusion_ref, 'metrics_msrs_mini_test.json')) as f:
        ref = json.load(f)['per_image']
    with open(out / 'per_image.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['method']
            for r in rows] == ['IR'] * 3 + ['VIS'] * 3 + ['SeAFusion'] * 3
    for row in rows[6:]:
        for metric in ('EN', 'VIF', 'Qabf', 'SSIM', 'MI'):
            assert float(row[metric]) == pytest.approx(
                ref[row['image']][metric], rel=1e-5)
    summary = (out / 'summary.md').read_text()
    assert '| method | images | EN ↑ | VIF ↑ | Qabf ↑ | SSIM ↑ | MI ↑ | ' \
           'Nabf ↓ |' in summary
    assert '| SeAFusion | 3 |' in summary
    for metric in ('EN', 'VIF', 'Qabf', 'SSIM', 'MI', 'Nabf'):
        plot = cv2.imread(str(out / 'plots' / f'{metric}.png'))
        assert plot is not None and plot.shape[0] > 100
    with open(out / 'summary.csv') as f:
        summary_rows = list(csv.DictReader(f))
    assert [r['method'] for r in summary_rows] == ['IR', 'VIS', 'SeAFusion']


def test_missing_and_bad_files(repo_root, folders, tmp_path, capsys):
    tool = _tool(repo_root)
    args = _args(folders, tmp_path / 'r1', '--fused',
                 f'ir_as_fused={folders["ir_copy"]}', '--metrics', 'EN,SD')
    # a missing fused file stops with an error naming it
    assert tool.main(args) == 2
    err = capsys.readouterr().err
    assert "no fused image of pair '00927N' for method 'ir_as_fused'" in err
    assert str(folders['ir_copy'] / '00927N') in err
    # a fused image of the wrong size names the file
    small = folders['ir_copy'] / '00927N.png'
    cv2.imwrite(
        str(small),
        cv2.imread(str(folders['ir'] / '00927N.png'))[:240, :320])
    assert tool.main(args) == 2
    assert f'fused image {small} is 320x240' in capsys.readouterr().err
    # an unreadable image names the file
    small.unlink()
    small.write_bytes(b'not an image')
    assert tool.main(args) == 2
    assert f'cannot read image {small}' in capsys.readouterr().err
    # --skip-missing: a warning, the count in the report, the rest measured
    with pytest.warns(UserWarning, match='skipped'):
        assert tool.main(args + ['--skip-missing']) == 0
    summary = (tmp_path / 'r1' / 'summary.md').read_text()
    assert '| ir_as_fused | 2 |' in summary
    assert '- ir_as_fused: 1 skipped' in summary
    assert '| SeAFusion | 3 |' in summary
