"""DeSRA as an installed tool: a real non-editable ``pip install`` into a temporary folder, console entry points,
``python -m desra.<command>``, outputs under the current folder, and the option templates shipped as package data."""
import os
import re
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest
import yaml
from skimage import data
from conftest import REPO_ROOT
from test_detect_cli import BOX, make_pair

from desra import commands, option_templates
from desra.config import shipped
from desra.io.images import write_image

#: What a source distribution of DeSRA holds (the rest of the checkout is not needed to install it).
PACKAGE_FILES = ('setup.py', 'README.md', 'LICENSE', 'requirements.txt', 'requirements-test.txt',
                 'requirements-weights.txt', 'options', 'datasets', 'desra')


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """A plain ``pip install`` (a wheel built from a copy of the sources, no ``-e``) into ``<tmp>/target``.

    Nothing is downloaded: the dependencies are those of this interpreter (``--no-deps``), the build uses its
    setuptools (``--no-build-isolation``). Returns the target folder (for ``PYTHONPATH``), its ``bin/``.
    """
    root = tmp_path_factory.mktemp('install')
    target = root / 'target'
    pip([sys.executable, '-m', 'pip'], 'install', '--no-build-isolation', '--target', str(target), copy_sources(root))
    return target


def copy_sources(root):
    """A copy of the files a source distribution holds (:data:`PACKAGE_FILES`) in ``<root>/src``; returns it."""
    source = root / 'src'
    source.mkdir()
    for name in PACKAGE_FILES:
        path = os.path.join(REPO_ROOT, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.copytree(path, source / name, symlinks=True, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copy2(path, source / name, follow_symlinks=False)
    return str(source)


def pip(command, *args):
    """Run pip (``command``: its words) with ``args``, offline and without dependencies (they are this
    interpreter's); raises with pip's output when it fails."""
    result = subprocess.run([*command, *args, '--quiet', '--no-deps', '--no-index', '--disable-pip-version-check'],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


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
    templates = sorted(str(p.relative_to(package / 'options')) for p in (package / 'options').rglob('*.yml'))
    assert templates == shipped.list_shipped('options')
    demo = sorted(str(p.relative_to(package / 'demo')) for p in (package / 'demo').rglob('*') if p.is_file())
    assert demo == shipped.list_shipped('demo') and 'models/mse_tail_x4plus.pth' in demo and 'splits.yml' in demo
    assert not (package / 'options').is_symlink() and not (package / 'demo').is_symlink()
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
    assert shipped.list_shipped('options') == in_repo
    assert 'detect.yml' in in_repo and 'demo/finetune.yml' in in_repo


def test_options_copy_keeps_existing_files_unless_forced(tmp_path):
    edited = tmp_path / 'detect.yml'
    edited.write_text('name: mine\n')
    written, kept = shipped.copy_shipped('options', str(tmp_path), ['detect.yml', 'infer.yml'])
    assert written == [str(tmp_path / 'infer.yml')] and kept == [str(edited)]
    assert edited.read_text() == 'name: mine\n'
    written, kept = shipped.copy_shipped('options', str(tmp_path), ['detect.yml'], force=True)
    assert written == [str(edited)] and not kept
    assert edited.read_text() == open(os.path.join(REPO_ROOT, 'options', 'detect.yml')).read()


def test_options_unknown_template_is_an_error_listing_the_templates(tmp_path):
    with pytest.raises(ValueError, match=r'^no shipped options file nope.yml; available: build_dataset.yml, '):
        option_templates.main(['copy', str(tmp_path), 'nope.yml'])
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize('name', ['detect', 'build_dataset', 'test', 'infer', 'options', 'weights'])
def test_console_scripts_run_the_command_modules(name, monkeypatch, capsys):
    """Each entry point of setup.py runs its command (here its ``--help``; ``-opt`` / ``--force_yml`` for all but
    ``desra-options``) and exits with its status."""
    monkeypatch.setattr(sys, 'argv', [f'desra-{name}', '--help'])
    with pytest.raises(SystemExit) as exit_info:
        getattr(commands, name)()
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    expected = {'options': ['copy', 'demo'], 'weights': ['--output_dir', '--force']}.get(
        name, ['-opt OPT', '--force_yml'])
    assert all(word in help_text for word in expected), help_text


def test_train_console_script_parses_basicsr_arguments(tmp_path, monkeypatch, capsys):
    """``desra-train`` parses basicsr's arguments: a missing option file is a user error (status 2) naming it."""
    monkeypatch.setattr(sys, 'argv', ['desra-train', '-opt', str(tmp_path / 'none.yml')])
    with pytest.raises(SystemExit) as exit_info:
        commands.train()
    assert exit_info.value.code == 2
    assert 'none.yml' in capsys.readouterr().err


#: The comment before the README's install-as-tool block.
README_BLOCK_MARK = '<!-- tests/test_packaging.py runs the commands of the next block'


def readme_install_commands():
    """The command lines of the README's install-as-tool block, comments removed."""
    with open(os.path.join(REPO_ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    block = text[text.index(README_BLOCK_MARK):]
    block = block[block.index('```bash\n') + len('```bash\n'):]
    block = block[:block.index('```')]
    return [re.sub(r'\s+#.*$', '', line).strip() for line in block.splitlines() if line.strip()]


def test_the_readme_install_block_works_as_written_in_an_empty_folder(tmp_path):
    """A wheel built from the checkout, installed in a new virtual environment that sees the packages already
    installed here (torch, basicsr, ...; none is downloaded), then every other line of the README's block run by
    bash, as written, in an empty folder holding two small LR images."""
    commands = readme_install_commands()
    assert [line for line in commands if line.startswith('pip install')] == [
        'pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu', "pip install '.[weights]'"]
    pip([sys.executable, '-m', 'pip'], 'wheel', '--no-build-isolation', '--wheel-dir', str(tmp_path / 'dist'),
        copy_sources(tmp_path))
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(tmp_path / 'venv')], check=True)
    venv_site = subprocess.run([str(tmp_path / 'venv' / 'bin' / 'python'), '-c', 'import sysconfig; '
                                'print(sysconfig.get_paths()["purelib"])'], capture_output=True, text=True,
                               check=True).stdout.strip()
    with open(os.path.join(venv_site, 'installed_here.pth'), 'w') as f:  # the packages installed here, not desra
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    wheel = next((tmp_path / 'dist').glob('desra-*.whl'))
    pip([sys.executable, '-m', 'pip', '--python', str(tmp_path / 'venv' / 'bin' / 'python')], 'install', str(wheel))
    work = tmp_path / 'work'
    photo = data.astronaut()
    for index, (top, left) in enumerate(((100, 150), (300, 250))):
        write_image(str(work / 'my_lr_images' / f'photo{index}.png'),
                    np.ascontiguousarray(photo[top:top + 40, left:left + 48, ::-1]))
    env = dict(os.environ, PATH=f'{tmp_path / "venv" / "bin"}{os.pathsep}{os.environ["PATH"]}', HF_HUB_OFFLINE='1')
    env.pop('PYTHONPATH', None)
    for command in commands:
        if command.startswith('pip install'):
            continue
        result = subprocess.run(['bash', '-c', command], cwd=work, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f'{command}\n{result.stdout}\n{result.stderr}'
    run_root = work / 'results' / 'detect_mine'
    assert sorted(p.name for p in (run_root / 'masks').iterdir()) == ['photo0.png', 'photo1.png']
    assert (run_root / 'index.html').is_file()
    assert (work / 'experiments' / 'pretrained_models' / 'DemoMSE_x4plus.pth').is_file()
    where = subprocess.run(['bash', '-c', 'command -v desra-detect; python -c "import desra; print(desra.__file__)"'],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert where == [str(tmp_path / 'venv' / 'bin' / 'desra-detect'), os.path.join(venv_site, 'desra', '__init__.py')]
