# Copyright (c) mmfusion contributors. All rights reserved.
"""tools/analysis_tools/eval_fused.py on real fused images: reports, plots,
several methods side by side, and bad input."""
import csv
import importlib.util
import json
import os
import os.path as osp
import shutil

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
    """A fused image that cannot be measured is left out: the others are
    measured and reported, the file is named with the reason at the end,
    the exit status is 1 (0 with --skip-missing)."""
    tool = _tool(repo_root)
    out = tmp_path / 'r1'
    args = _args(folders, out, '--fused', f'ir_as_fused={folders["ir_copy"]}',
                 '--metrics', 'EN,SD', '--no-plots')

    def run(*extra):
        code = tool.main(args + list(extra))
        res = capsys.readouterr()
        return code, res.err, (out / 'summary.md').read_text()

    # a missing fused file
    code, err, summary = run()
    assert code == 1
    assert "no fused image of pair '00927N' for method 'ir_as_fused'" in err
    assert str(folders['ir_copy'] / '00927N') in err
    assert '| ir_as_fused | 2 |' in summary and '| SeAFusion | 3 |' in summary
    assert '- ir_as_fused: 1 skipped' in summary
    # a fused image of the wrong size names the file
    small = folders['ir_copy'] / '00927N.png'
    cv2.imwrite(
        str(small),
        cv2.imread(str(folders['ir'] / '00927N.png'))[:240, :320])
    code, err, summary = run()
    assert code == 1 and f'fused image {small} is 320x240' in err
    # an unreadable image names the file
    small.unlink()
    small.write_bytes(b'not an image')
    code, err, summary = run()
    assert code == 1 and f'cannot read image {small}' in err
    # --skip-missing: the same report, the list on stdout, exit status 0
    code, err, summary = run('--skip-missing')
    assert code == 0 and not err
    assert '| ir_as_fused | 2 |' in summary
    assert '- ir_as_fused: 1 skipped' in summary
    assert '| SeAFusion | 3 |' in summary


def test_folder_with_a_truncated_png(repo_root, msrs_mini, tmp_path, capsys):
    """8 real pairs, one source IR PNG cut in half (``head -c``) and one
    fused image too: the 7 (6) measurable images of each method are
    measured, both files are named with the reason, the exit status is 1;
    the rerun gives the same."""
    src = osp.join(msrs_mini, 'train')
    names = sorted(f[:-4] for f in os.listdir(osp.join(src, 'ir')))[:8]
    for modality in ('ir', 'vi'):
        os.makedirs(tmp_path / modality)
        for name in names:
            shutil.copy(
                osp.join(src, modality, name + '.png'), tmp_path / modality)
    ir, vi = str(tmp_path / 'ir'), str(tmp_path / 'vi')
    bad = tmp_path / 'ir' / f'{names[3]}.png'
    data = bad.read_bytes()
    bad.write_bytes(data[:len(data) // 2])
    fused = tmp_path / 'fused'  # the VIS images as a method's results
    shutil.copytree(vi, fused)
    bad_fused = fused / f'{names[5]}.png'
    data = bad_fused.read_bytes()
    bad_fused.write_bytes(data[:1000])
    tool = _tool(repo_root)
    args = [
        '--fused', f'VISCOPY={fused}', '--ir', ir, '--vi', vi, '--out-dir',
        str(tmp_path / 'report'), '--no-progress', '--no-plots', '--metrics',
        'EN,SD', '--with-sources'
    ]
    for _ in range(2):
        assert tool.main(args) == 1
        err = capsys.readouterr().err
        assert '2 image(s) could not be measured' in err
        assert (f'{names[3]} (every method): cannot read image {bad}: '
                'truncated PNG') in err
        assert (f'{names[5]} (VISCOPY): cannot read image {bad_fused}: '
                'truncated PNG') in err
        assert 'check_images' not in err
        with open(tmp_path / 'report' / 'per_image.csv') as f:
            rows = list(csv.DictReader(f))
        per_method = {
            m: sorted(r['image'] for r in rows if r['method'] == m)
            for m in ('IR', 'VIS', 'VISCOPY')
        }
        assert per_method['IR'] == per_method['VIS'] == [
            n for n in names if n != names[3]
        ]
        assert per_method['VISCOPY'] == [
            n for n in names if n not in (names[3], names[5])
        ]
