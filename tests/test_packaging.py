"""DeSRA as an installed tool: a real non-editable ``pip install`` into a temporary folder, console entry points,
``python -m desra.<command>``, outputs under the current folder, and the option templates shipped as package data."""
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import REPO_ROOT
from test_detect_cli import BOX, make_pair

from desra import commands, option_templates
from desra.utils.img_io import write_image

#: What a source distribution of DeSRA holds (the rest of the checkout is not needed to install it).
PACKAGE_FILES = ('setup.py', 'README.md', 'LICENSE', 'requirements.txt', 'requirements-test.txt', 'options', 'desra')


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """A plain ``pip install`` (a wheel built from a copy of the sources, no ``-e``) into ``<tmp>/target``.

    Nothing is downloaded: the dependencies are those of this interpreter (``--no-deps``), the build uses its
    setuptools (``--no-build-isolation``). Returns the target folder (for ``PYTHONPATH``), its ``bin/``.
    """
    root = tmp_path_factory.mktemp('install')
    source = root / 'src'
    source.mkdir()
    for name in PACKAGE_FILES:
        path = os.path.join(REPO_ROOT, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.copytree(path, source / name, symlinks=True, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copy2(path, source / name, follow_symlinks=False)
    target = root / 'target'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--no-build-isolation',
                    '--no-index', '--disable-pip-version-check', '--target', str(target), str(source)],
                   check=True, capture_output=True, text=True)
    return target


def installed_env(target):
    """The environment of a command that must import the installed copy, not this checkout."""
    return dict(os.environ, PYTHONPATH=str(target))


def write_detect_job(folder):
    """Two tiny SR pairs (MSE-SR / GAN-SR folders) and a detect option file with relative paths, in ``folder``."""
    for index in range(2):
        mse, gan = make_pair(64, 72, BOX, seed=index)
        write_image(str(folder / 'mse' / f'img{index}.png'), mse[..., ::-1].copy())
        write_image(str(folder / 'gan' / f'img{index}.png'), gan[..., ::-1].copy())
    opt = {'name': 'tool_run', 'num_gpu': 0, 'manual_seed': 0,
           'datasets': {'detect': {'dataroot_mse': 'mse', 'dataroot_gan': 'gan'}},
           'detector': {'min_area': 50, 'segmenter': {'type': 'none'}}}
    (folder / 'detect.yml').write_text(yaml.safe_dump(opt))


def test_installed_package_is_complete(installed):
    """The wheel holds the class tables and every option template as plain files, and no checkout path."""
    package = installed / 'desra'
    assert (package / 'detection' / 'desra_ade20k_class_intervals.txt').is_file()
    assert (package / 'detection' / 'ade20k_classes.txt').is_file()
    shipped = sorted(str(p.relative_to(package / 'options')) for p in (package / 'options').rglob('*.yml'))
    assert shipped == option_templates.list_templates()
    assert not (package / 'options').is_symlink()
    assert sorted(p.name for p in (installed / 'bin').iterdir()) == sorted(commands.COMMANDS)


def test_installed_detect_writes_under_the_current_folder(installed, tmp_path):
    """``desra-detect`` of the installed package, run from a job folder, reads its relative inputs there and writes
    ``results/<name>/`` there; nothing is written into the installation but Python's byte code of the installed
    modules (the proof that they, not this checkout, ran)."""
    write_detect_job(tmp_path)
    before = sorted(p for p in installed.rglob('*') if '__pycache__' not in p.parts)
    result = subprocess.run([str(installed / 'bin' / 'desra-detect'), '-opt', 'detect.yml'], cwd=tmp_path,
                            env=installed_env(installed), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    run_root = tmp_path / 'results' / 'tool_run'
    assert sorted(p.name for p in (run_root / 'masks').iterdir()) == ['img0.png', 'img1.png']
    assert (run_root / 'summary.csv').is_file() and (run_root / 'index.html').is_file()
    assert sorted(p for p in installed.rglob('*') if '__pycache__' not in p.parts) == before
    assert list((installed / 'desra' / '__pycache__').glob('detect.*.pyc'))


def test_installed_options_copy(installed, tmp_path):
    """``python -m desra.option_templates copy DEST`` (= ``desra-options``) of the installed package writes the
    shipped templates, byte for byte."""
    result = subprocess.run([sys.executable, '-m', 'desra.option_templates', 'copy', 'opts', 'detect.yml',
                             'demo/detect.yml'], cwd=tmp_path, env=installed_env(installed),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in ('detect.yml', 'demo/detect.yml'):
        assert (tmp_path / 'opts' / name).read_bytes() == (installed / 'desra' / 'options' / name).read_bytes()


def test_option_templates_are_the_repository_files():
    """In a checkout, the packaged templates are the files of ``options/`` (one copy: a symbolic link)."""
    assert os.path.islink(os.path.join(REPO_ROOT, 'desra', 'options'))
    in_repo = sorted(os.path.relpath(os.path.join(folder, name), os.path.join(REPO_ROOT, 'options'))
                     for folder, _, names in os.walk(os.path.join(REPO_ROOT, 'options'))
                     for name in names if name.endswith('.yml'))
    assert option_templates.list_templates() == in_repo
    assert 'detect.yml' in in_repo and 'demo/finetune.yml' in in_repo


def test_options_copy_keeps_existing_files_unless_forced(tmp_path):
    edited = tmp_path / 'detect.yml'
    edited.write_text('name: mine\n')
    written, kept = option_templates.copy_templates(str(tmp_path), ['detect.yml', 'infer.yml'])
    assert written == [str(tmp_path / 'infer.yml')] and kept == [str(edited)]
    assert edited.read_text() == 'name: mine\n'
    written, kept = option_templates.copy_templates(str(tmp_path), ['detect.yml'], force=True)
    assert written == [str(edited)] and not kept
    assert edited.read_text() == open(os.path.join(REPO_ROOT, 'options', 'detect.yml')).read()


def test_options_unknown_template_is_an_error_listing_the_templates(tmp_path):
    with pytest.raises(ValueError, match=r'^no option template nope.yml; available: build_dataset.yml, '):
        option_templates.main(['copy', str(tmp_path), 'nope.yml'])
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize('name', ['detect', 'build_dataset', 'test', 'infer', 'options'])
def test_console_scripts_run_the_command_modules(name, monkeypatch, capsys):
    """Each entry point of setup.py runs its command (here its ``--help``; ``-opt`` / ``--force_yml`` for all but
    ``desra-options``) and exits with its status."""
    monkeypatch.setattr(sys, 'argv', [f'desra-{name}', '--help'])
    with pytest.raises(SystemExit) as exit_info:
        getattr(commands, name)()
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert ('copy' in help_text) if name == 'options' else ('-opt OPT' in help_text and '--force_yml' in help_text)


def test_train_console_script_parses_basicsr_arguments(tmp_path, monkeypatch, capsys):
    """``desra-train`` parses basicsr's arguments: a missing option file is a user error (status 2) naming it."""
    monkeypatch.setattr(sys, 'argv', ['desra-train', '-opt', str(tmp_path / 'none.yml')])
    with pytest.raises(SystemExit) as exit_info:
        commands.train()
    assert exit_info.value.code == 2
    assert 'none.yml' in capsys.readouterr().err
