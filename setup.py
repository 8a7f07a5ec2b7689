"""Install the DeSRA toolkit: ``pip install -e .`` (add ``[test]`` for the test-only needs)."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


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
    package_data={'desra': ['detection/*.txt']},
    install_requires=read_requirements('requirements.txt'),
    extras_require={'test': read_requirements('requirements-test.txt')},
)
