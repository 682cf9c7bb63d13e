# Copyright (c) mmfusion contributors. All rights reserved.
"""The configs and the model index stay consistent: config names are
unique across ``configs/`` (a name says which file it is, as in the
OpenMMLab repositories and ``mim``), ``model-index.yml`` imports every
method's ``metafile.yml``, every metafile names configs and a README that
exist, and ``MANIFEST.in`` ships the project files."""
import glob
import os.path as osp
from collections import defaultdict

import yaml


def _configs(repo_root):
    return sorted(
        glob.glob(
            osp.join(repo_root, 'configs', '**', '*.py'), recursive=True))


def test_config_names_are_unique(repo_root):
    where = defaultdict(list)
    for path in _configs(repo_root):
        where[osp.basename(path)].append(osp.relpath(path, repo_root))
    clashes = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not clashes, f'config names used more than once: {clashes}'


def test_model_index_and_metafiles(repo_root):
    with open(osp.join(repo_root, 'model-index.yml')) as f:
        imported = set(yaml.safe_load(f)['Import'])
    metafiles = {
        osp.relpath(p, repo_root)
        for p in glob.glob(
            osp.join(repo_root, 'configs', '*', 'metafile.yml'))
    }
    assert metafiles and imported == metafiles
    names = []
    for metafile in sorted(metafiles):
        folder = osp.dirname(metafile)
        assert osp.isfile(osp.join(repo_root, folder, 'README.md')), folder
        with open(osp.join(repo_root, metafile)) as f:
            meta = yaml.safe_load(f)
        collections = {c['Name'] for c in meta['Collections']}
        for collection in meta['Collections']:
            assert osp.isfile(osp.join(repo_root, collection['README'])), \
                f'{metafile}: {collection["README"]}'
        for model in meta['Models']:
            names.append(model['Name'])
            assert model['In Collection'] in collections, model['Name']
            assert osp.isfile(osp.join(repo_root, model['Config'])), \
                f'{metafile}: {model["Name"]}: {model["Config"]}'
    assert len(names) == len(set(names)), 'model names used more than once'


def test_project_files_are_shipped(repo_root):
    with open(osp.join(repo_root, 'MANIFEST.in')) as f:
        manifest = f.read().split()
    for name in ('LICENSE', 'CITATION.cff', 'CHANGELOG.md'):
        assert osp.isfile(osp.join(repo_root, name)), name
        assert name in manifest, f'MANIFEST.in does not include {name}'
