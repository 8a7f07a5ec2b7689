"""The house plan: every module of ``desra`` has a floor, and no import climbs to a higher floor than its own.

The floors, lowest first, as the README's layout section describes them. A new module must be given a floor here
(the test names the modules that have none), so that new work lands in a room whose job it is.
"""
import ast
import os

import pytest

from tests.conftest import REPO_ROOT

PACKAGE_ROOT = os.path.join(REPO_ROOT, 'desra')
#: Module name prefixes and their floor; the longest matching prefix decides.
FLOORS = {
    # files, and what knows nothing of the rest of DeSRA
    'desra.io': 0, 'desra.version': 0, 'desra.basicsr_compat': 0, 'desra.config.schema': 0,
    'desra.config': 0, 'desra.config.layout': 0,
    # weights, the batch runtime, registration, option templates
    'desra.weights': 1, 'desra.weights.reference': 1, 'desra.batch': 1, 'desra.registry': 1, 'desra.config.shipped': 1,
    # the algorithms: architectures, Stage 1, metrics, losses
    'desra.archs': 2, 'desra.archs.frozen_features': 2, 'desra.detection': 2, 'desra.metrics': 2, 'desra.losses': 2,
    # what runs networks on images and draws the results
    'desra.inference': 3, 'desra.report': 3,
    # Stage 2, the training models, Stage 1's outputs and its batch run
    'desra.data': 4, 'desra.data.reference_twin_dataset': 4, 'desra.models': 4,
    'desra.models.reference_twin_model': 4, 'desra.detection.outputs': 4, 'desra.detection.stage_one_run': 4,
    # the commands' runs and the option system that checks every component before a run
    'desra.detection.detect_run': 5, 'desra.evaluation': 5, 'desra.training': 5, 'desra.training.twin_check': 5,
    'desra.config.options': 5, 'desra.config.preflight': 5, 'desra.config.heldout': 5,
    # the commands and the package itself
    'desra': 6, 'desra.commands': 6, 'desra.detect': 6, 'desra.build_dataset': 6, 'desra.train': 6,
    'desra.test': 6, 'desra.infer': 6, 'desra.option_templates': 6, 'desra.make_weights': 6,
}


def floor_of(module):
    """The floor of ``module`` (the longest prefix of :data:`FLOORS`), or None when it has none."""
    parts = module.split('.')
    for end in range(len(parts), 0, -1):
        prefix = '.'.join(parts[:end])
        if prefix in FLOORS and (end > 1 or module == 'desra' or end == len(parts)):
            return FLOORS[prefix]
    return None


def package_modules():
    """``{module name: file}`` of every module of the package (``desra/options`` holds no code)."""
    modules = {}
    for folder, subfolders, files in os.walk(PACKAGE_ROOT):
        subfolders[:] = [name for name in subfolders if name not in ('__pycache__', 'options')]
        for name in files:
            if name.endswith('.py'):
                rel = os.path.relpath(os.path.join(folder, name), REPO_ROOT)[:-len('.py')].split(os.sep)
                modules['.'.join(rel[:-1] if rel[-1] == '__init__' else rel)] = os.path.join(folder, name)
    return modules


def imports_of(module, path):
    """The ``desra`` modules that ``module`` imports anywhere in its file (also inside functions)."""
    tree = ast.parse(open(path, encoding='utf-8').read())
    package = module if path.endswith('__init__.py') else module.rpartition('.')[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = package.split('.')[:len(package.split('.')) - node.level + 1]
                base = '.'.join(anchor + ([base] if base else []))
            targets.add(base)
            targets.update(f'{base}.{alias.name}' for alias in node.names)  # `from desra import basicsr_compat`
    modules = package_modules()
    return {target for target in targets if target in modules}


def test_every_module_has_a_floor():
    assert [module for module in package_modules() if floor_of(module) is None] == []


@pytest.mark.parametrize('module', sorted(package_modules()))
def test_no_import_climbs_to_a_higher_floor(module):
    floor = floor_of(module)
    climbing = sorted(target for target in imports_of(module, package_modules()[module])
                      if floor_of(target) > floor)
    assert climbing == [], f'{module} (floor {floor}) imports from higher floors: {climbing}'


def test_every_package_says_what_it_holds_and_none_is_a_grab_bag():
    for module, path in package_modules().items():
        if path.endswith('__init__.py'):
            assert module.split('.')[-1] not in ('utils', 'misc', 'common', 'helpers'), module
            assert ast.get_docstring(ast.parse(open(path, encoding='utf-8').read())), f'{module} has no docstring'


def test_the_floors_catch_an_import_that_climbs(tmp_path):
    """The check itself: a floor-0 module importing a command is found."""
    path = tmp_path / 'images.py'
    path.write_text('from desra.detection.detect_run import DetectRun\n\n\ndef f():\n    import desra.train\n')
    assert imports_of('desra.io.images', str(path)) == {'desra.detection.detect_run', 'desra.train'}
    assert floor_of('desra.io.images') == 0 and floor_of('desra.detection.detect_run') == 5
    assert floor_of('desra.detection.contrast') == 2 and floor_of('desra.nonexistent') is None
