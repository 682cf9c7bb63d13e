# Copyright (c) mmfusion contributors. All rights reserved.
"""The package's folders form a stack: a folder imports only folders below
it, and the folder graph has no cycle.

Every ``import`` / ``from ... import`` of every ``mmfusion/**/*.py`` counts,
at module level and inside functions alike (a lazy import is still a
dependency); relative imports are resolved. ``mmfusion/__init__.py``,
``registry.py`` and ``version.py`` are the package root, which any folder
may import. ``testing/`` is test support on top of everything; nothing in
the package imports it.
"""
import ast
import os
import os.path as osp
from collections import defaultdict

import pytest

PACKAGE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'mmfusion')

# lowest first; a folder may import only the folders before it
STACK = ('utils', 'structures', 'datasets', 'models', 'evaluation',
         'visualization', 'engine', 'apis', 'testing')
ROOT_MODULES = ('', 'registry', 'version')


def _module_name(path: str) -> tuple:
    """``(dotted module name, its package)`` of a file of the package."""
    rel = osp.relpath(path, osp.dirname(PACKAGE))[:-len('.py')]
    parts = rel.split(os.sep)
    if parts[-1] == '__init__':
        parts = parts[:-1]
        return '.'.join(parts), '.'.join(parts)
    return '.'.join(parts), '.'.join(parts[:-1])


def _imported_modules(path: str):
    """``(line, absolute module name)`` of every import in a file."""
    _, package = _module_name(path)
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                module = '.'.join(base +
                                  ([node.module] if node.module else []))
            else:
                module = node.module
            yield node.lineno, module
            if module == 'mmfusion':  # ``from mmfusion import apis``
                for alias in node.names:
                    yield node.lineno, f'{module}.{alias.name}'


def _folder(module: str):
    """The top folder of an mmfusion module, ``None`` for the package root
    and for anything outside the package."""
    parts = module.split('.')
    if parts[0] != 'mmfusion':
        return None
    top = parts[1] if len(parts) > 1 else ''
    if top in ROOT_MODULES or not osp.isdir(osp.join(PACKAGE, top)):
        return None
    return top


def folder_edges():
    """``{(from folder, to folder): ['file:line module', ...]}``."""
    edges = defaultdict(list)
    for dirpath, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if not name.endswith('.py'):
                continue
            path = osp.join(dirpath, name)
            src = _folder(_module_name(path)[0])
            if src is None:
                continue
            rel = osp.relpath(path, osp.dirname(PACKAGE))
            for line, module in _imported_modules(path):
                dst = _folder(module)
                if dst is not None and dst != src:
                    where = f'{rel}:{line} imports {module}'
                    if where not in edges[(src, dst)]:
                        edges[(src, dst)].append(where)
    return dict(edges)


def find_cycles(edges):
    """The strongly connected groups of folders (each a sorted list of two
    or more folders that reach each other through imports)."""
    graph = defaultdict(set)
    for src, dst in edges:
        graph[src].add(dst)

    def reach(node):
        seen, todo = set(), [node]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reachable = {node: reach(node) for node in list(graph)}
    groups = []
    for node in sorted(reachable):
        group = sorted(
            {node}
            | {n
               for n in reachable[node] if node in reachable.get(n, ())})
        if len(group) > 1 and group not in groups:
            groups.append(group)
    return groups


def test_every_folder_is_in_the_stack():
    folders = {
        d
        for d in os.listdir(PACKAGE)
        if osp.isfile(osp.join(PACKAGE, d, '__init__.py'))
    }
    assert folders <= set(STACK), \
        f'place the new folder(s) {sorted(folders - set(STACK))} in STACK'


def test_no_cycle_between_folders():
    edges = folder_edges()
    lines = []
    for group in find_cycles(edges):
        lines.append('cycle through ' + ', '.join(group) + ':')
        for (src, dst), wheres in sorted(edges.items()):
            if src in group and dst in group:
                lines += [f'  {src} -> {dst}:'] + [f'    {w}' for w in wheres]
    if lines:
        pytest.fail(
            'the package folders import each other in a cycle '
            '(module- and function-level imports):\n' + '\n'.join(lines),
            pytrace=False)


def test_no_folder_imports_a_higher_one():
    level = {name: i for i, name in enumerate(STACK)}
    upward = [
        f'{src} imports {dst} (above it): {where}'
        for (src, dst), wheres in sorted(folder_edges().items())
        if level[dst] > level[src] for where in wheres
    ]
    if upward:
        pytest.fail(
            'lower folders may not import higher ones (stack: '
            f'{" < ".join(STACK)}):\n' + '\n'.join(upward),
            pytrace=False)


def test_the_check_sees_lazy_and_relative_imports(tmp_path):
    """The walker counts function-level and relative imports."""
    pkg = tmp_path / 'mmfusion' / 'utils'
    pkg.mkdir(parents=True)
    src = pkg / 'x.py'
    src.write_text('from ..datasets import a\n\ndef f():\n'
                   '    import mmfusion.apis.fusion_inferencer\n'
                   '    from .. import engine\n')
    global PACKAGE
    saved, PACKAGE = PACKAGE, str(tmp_path / 'mmfusion')
    try:
        found = sorted(set(m for _, m in _imported_modules(str(src))))
    finally:
        PACKAGE = saved
    assert found == [
        'mmfusion', 'mmfusion.apis.fusion_inferencer', 'mmfusion.datasets',
        'mmfusion.engine'
    ]
