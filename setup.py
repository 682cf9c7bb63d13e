#!/usr/bin/env python
# Copyright (c) mmfusion contributors. All rights reserved.
import os
import os.path as osp
import platform
import shutil
import sys
import warnings
from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


version_file = 'mmfusion/version.py'


def get_version():
    with open(version_file) as f:
        exec(compile(f.read(), version_file, 'exec'))
    return locals()['__version__']


def parse_requirements(fname='requirements.txt'):
    """Read requirement lines (following ``-r`` includes), skipping comments.
    """
    require_fpath = fname

    def parse_line(line, fpath):
        if line.startswith('-r '):
            # relative to the file that includes it, as pip resolves it
            target = osp.join(osp.dirname(fpath), line.split(' ')[1])
            yield from parse_require_file(target)
        else:
            yield line

    def parse_require_file(fpath):
        with open(fpath) as f:
            for line in f.readlines():
                line = line.strip()
                if line and not line.startswith('#'):
                    yield from parse_line(line, fpath)

    return list(parse_require_file(require_fpath))


def add_mim_extension():
    """Ship ``configs/``, ``tools/`` and ``model-index.yml`` inside the package
    as ``mmfusion/.mim`` (symlinks for editable installs, copies otherwise),
    like mmseg/mmyolo, so ``mim`` and installed users find the configs."""
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink' if platform.system() != 'Windows' else 'copy'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        mode = 'copy'
    else:
        return

    filenames = ['tools', 'configs', 'model-index.yml']
    repo_path = osp.dirname(__file__)
    mim_path = osp.join(repo_path, 'mmfusion', '.mim')
    os.makedirs(mim_path, exist_ok=True)

    for filename in filenames:
        if not osp.exists(filename):
            continue
        src_path = osp.join(repo_path, filename)
        tar_path = osp.join(mim_path, filename)
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)
        if mode == 'symlink':
            src_relpath = osp.relpath(src_path, osp.dirname(tar_path))
            os.symlink(src_relpath, tar_path)
        elif mode == 'copy':
            if osp.isfile(src_path):
                shutil.copyfile(src_path, tar_path)
            elif osp.isdir(src_path):
                shutil.copytree(src_path, tar_path)
            else:
                warnings.warn(f'Cannot copy file {src_path}.')


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmfusion',
        version=get_version(),
        description='Task-driven infrared/visible image fusion on OpenMMLab',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='image fusion, infrared, visible, task-driven, OpenMMLab',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'data')),
        include_package_data=True,
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'all': parse_requirements('requirements.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
            'build': parse_requirements('requirements/build.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
            'zoo': parse_requirements('requirements/zoo.txt'),
            'mim': parse_requirements('requirements/mminstall.txt'),
        },
        zip_safe=False)
