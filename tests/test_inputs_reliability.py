"""Inputs that must never stop a batch or mislead (issue 10, items 10-16): oversized and truncated images, names with
spaces or line breaks, stale outputs, symlinked folders, empty inputs, corrupt checkpoints, exit statuses."""
import html
import json
import logging
import os
import re
import struct
import subprocess
import sys
import time
import zlib

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import TINY_RRDB_OPT, run_command, save_tiny_checkpoints, write_random_images

from desra import build_dataset, detect, infer
from desra import test as test_command
from desra.batch.failures import capped_lines
from desra.batch.logs import new_log_file
from desra.batch.run import finish
from desra.commands import run_main
from desra.data.desra_dataset import DeSRADataset
from desra.io import images
from desra.io.images import (DEFAULT_MAX_IMAGE_PIXELS, ImageReadError, atomic_output, list_images, read_image,
                             remove_stale_temp_files, set_max_image_pixels, write_image)
from desra.io.names import Failure, meta_info_name_problem, read_name_list
from desra.training.state import find_resume_state
from desra.weights.checkpoint import CorruptCheckpointError, load_state_dict

DETECTOR_OPT = {'window_size': 11, 'threshold': 0.7, 'min_area': 50, 'segmenter': {'type': 'none'}}


def png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)


def write_huge_png(path, width=100000, height=100000):
    """A valid-looking 8-bit RGB PNG of a few dozen bytes whose header declares ``width`` x ``height`` pixels."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    data = (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', header) + png_chunk(b'IDAT', zlib.compress(b'\0' * 16))
            + png_chunk(b'IEND', b''))
    with open(path, 'wb') as f:
        f.write(data)
    return len(data)


def write_truncated_jpeg(path, shape=(48, 56, 3)):
    """A JPEG of random content cut in the middle (an interrupted download)."""
    ok, encoded = cv2.imencode('.jpg', np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8))
    data = encoded.tobytes()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


@pytest.fixture(autouse=True)
def default_pixel_limit():
    yield
    set_max_image_pixels({})


def make_pair(shape=(48, 56), seed=0):
    """uint8 BGR (MSE-SR, GAN-SR): a gradient, and the same with strong noise in a box (one artifact part)."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    mse = np.stack([60 + xx, 60 + yy, 60 + (xx + yy) // 2], axis=2).astype(np.float64)
    gan = mse.copy()
    gan[12:36, 14:42] += np.random.default_rng(seed).normal(0, 40, (24, 28, 3))
    return np.clip(mse, 0, 255).astype(np.uint8), np.clip(gan, 0, 255).astype(np.uint8)


def write_options(tmp_path, name, opt):
    """Write ``opt`` (with name, CPU, seed and results under ``tmp_path/results``) and return the -opt args."""
    opt = {'name': name, 'num_gpu': 0, 'manual_seed': 0, **opt}
    opt.setdefault('path', {})['results_root'] = str(tmp_path / 'results')
    path = tmp_path / f'{name}.yml'
    path.write_text(yaml.safe_dump(opt))
    return ['-opt', str(path)]


def folder_detection(tmp_path, names=('a', 'b')):
    """MSE-SR / GAN-SR folders with a good pair per name; returns the detect args and the run folder."""
    for index, name in enumerate(names):
        mse, gan = make_pair(seed=index)
        write_image(str(tmp_path / 'mse' / f'{name}.png'), mse)
        write_image(str(tmp_path / 'gan' / f'{name}.png'), gan)
    args = write_options(tmp_path, 'det', {'detector': DETECTOR_OPT, 'datasets': {'detect': {
        'dataroot_mse': str(tmp_path / 'mse'), 'dataroot_gan': str(tmp_path / 'gan')}}})
    return args, tmp_path / 'results' / 'det'


def summary_images(run_root):
    lines = (run_root / 'summary.csv').read_text().splitlines()
    return sorted(line.split(',')[0] for line in lines[1:])


# ----------------------------------------------------------------------------- 10. header first, per-image failures
def test_a_png_that_declares_100000x100000_is_refused_from_its_header(tmp_path):
    size = write_huge_png(str(tmp_path / 'huge.png'))
    assert size < 100
    with pytest.raises(ImageReadError, match=r'huge.png: 100000x100000 \(WxH\) = 10000000000 pixels is above the '
                                             rf'limit of {DEFAULT_MAX_IMAGE_PIXELS} pixels; raise the option '
                                             'max_image_pixels'):
        read_image(tmp_path / 'huge.png')
    write_huge_png(str(tmp_path / 'big.png'), 12000, 12000)  # above our limit, below PIL's bomb check
    with pytest.raises(ImageReadError, match=r'big.png: 12000x12000 \(WxH\) = 144000000 pixels is above the limit'):
        read_image(tmp_path / 'big.png')
    write_image(str(tmp_path / 'small.png'), np.zeros((10, 20), np.uint8))
    set_max_image_pixels({'max_image_pixels': 199})
    with pytest.raises(ImageReadError, match=r'20x10 \(WxH\) = 200 pixels is above the limit of 199'):
        read_image(tmp_path / 'small.png')
    set_max_image_pixels({'max_image_pixels': 200})
    assert read_image(tmp_path / 'small.png').shape == (10, 20)
    with pytest.raises(ValueError, match='max_image_pixels must be a positive integer'):
        set_max_image_pixels({'max_image_pixels': '1e6'})


def test_decoder_errors_become_image_errors(tmp_path, monkeypatch):
    write_image(str(tmp_path / 'a.png'), np.zeros((4, 4), np.uint8))

    def failing_imread(*args):
        raise cv2.error('OpenCV(5.0.0) loadsave.cpp:79: error: (-215:Assertion failed) pixels <= LIMIT')

    monkeypatch.setattr(images.cv2, 'imread', failing_imread)
    with pytest.raises(ImageReadError, match=r'a.png: not a readable image \(OpenCV: .*pixels <= LIMIT\)'):
        read_image(tmp_path / 'a.png')
    monkeypatch.setattr(images.cv2, 'imread', lambda *args: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(ImageReadError, match='a.png: not enough memory to decode it'):
        read_image(tmp_path / 'a.png')


def test_detect_finishes_the_other_images_despite_a_huge_and_a_truncated_file(tmp_path):
    args, run_root = folder_detection(tmp_path)
    write_huge_png(str(tmp_path / 'mse' / 'huge.png'))
    write_huge_png(str(tmp_path / 'gan' / 'huge.png'))
    mse, _ = make_pair()
    write_image(str(tmp_path / 'mse' / 'cut.png'), mse)
    write_truncated_jpeg(str(tmp_path / 'gan' / 'cut.jpg'))
    assert detect.main(args) == 1
    assert summary_images(run_root) == ['a', 'b']
    html_text = (run_root / 'index.html').read_text()
    assert '2 image(s) skipped' in html_text
    log = next(run_root.glob('detect_det_*.log')).read_text()
    assert re.search(r'skipped huge: .*huge.png: 100000x100000 \(WxH\) = 10000000000 pixels is above', log)
    assert re.search(r'skipped cut: .*cut.jpg: truncated image file', log)


def test_infer_finishes_the_other_images_despite_a_huge_file(tmp_path, tiny_rrdb_checkpoint, capsys):
    write_random_images(str(tmp_path / 'lr'), ('a', 'c'))
    write_huge_png(str(tmp_path / 'lr' / 'b.png'))
    args = write_options(tmp_path, 'inf', {'network_g': TINY_RRDB_OPT, 'scale': 4, 'datasets': {'test': {
        'dataroot_lq': str(tmp_path / 'lr')}}, 'path': {'pretrain_network_g': str(tiny_rrdb_checkpoint)}})
    assert infer.main(args) == 1
    assert '2 written, 0 already done, 1 failed' in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / 'results' / 'inf')) == ['.made_with.jsonl', 'a.png', 'c.png']


def detection_run_for_build(root, names, lr_shape=(8, 10)):
    """LR, SR (x4) and mask folders as a detection run leaves them, one artifact block per image."""
    rng = np.random.default_rng(3)
    for name in names:
        lr = rng.integers(0, 256, lr_shape + (3,), dtype=np.uint8)
        mask = np.zeros((lr_shape[0] * 4, lr_shape[1] * 4), np.uint8)
        mask[4:12, 4:16] = 255
        write_image(str(root / 'lr' / f'{name}.png'), lr)
        write_image(str(root / 'sr_mse' / f'{name}.png'), cv2.resize(lr, None, fx=4, fy=4))
        write_image(str(root / 'sr_gan' / f'{name}.png'), rng.integers(0, 256, mask.shape + (3,), dtype=np.uint8))
        write_image(str(root / 'masks' / f'{name}.png'), mask)


def build_args(tmp_path, **build):
    run = tmp_path / 'detect'
    return write_options(tmp_path, 'build', {'scale': 4, 'build': build, 'datasets': {'build': {
        'dataroot_mask': str(run / 'masks'), 'dataroot_mse': str(run / 'sr_mse'), 'dataroot_gan': str(run / 'sr_gan'),
        'dataroot_lq': str(run / 'lr')}}})


def test_build_finishes_the_other_images_despite_a_huge_file(tmp_path):
    detection_run_for_build(tmp_path / 'detect', ('a', 'b', 'c'))
    write_huge_png(str(tmp_path / 'detect' / 'lr' / 'b.png'))
    assert build_dataset.main(build_args(tmp_path)) == 1
    assert (tmp_path / 'results' / 'build' / 'meta_info.txt').read_text() == 'a.png\nc.png\n'


def test_test_command_finishes_the_other_images_despite_a_huge_file(tmp_path):
    write_random_images(str(tmp_path / 'lr'), ('a', 'c'))
    write_huge_png(str(tmp_path / 'lr' / 'b.png'))
    checkpoints = save_tiny_checkpoints(str(tmp_path), ('mse', 'gan', 'finetuned'))
    args = write_options(tmp_path, 'eval', {
        'scale': 4, 'network_mse': TINY_RRDB_OPT, 'network_gan': TINY_RRDB_OPT, 'network_finetuned': TINY_RRDB_OPT,
        'path': {f'pretrain_network_{role}': path for role, path in checkpoints.items()},
        'datasets': {'test': {'dataroot_lq': str(tmp_path / 'lr')}},
        'detector': {'threshold': 0.99, 'min_area': 10, 'segmenter': {'type': 'none'}}})
    assert test_command.main(args) == 1
    run_root = tmp_path / 'results' / 'eval'
    report = json.loads((run_root / 'finetune_eval.json').read_text())
    assert [row['image'] for row in report['images']] == ['a', 'c']
    assert len(report['failures']) == 1 and 'above the limit' in report['failures'][0]
    assert (run_root / 'index.html').is_file()


# ------------------------------------------------------------------------------------------- 11. truncated JPEGs
def test_truncated_jpeg_is_refused_and_trailing_bytes_after_a_whole_jpeg_are_not(tmp_path):
    write_truncated_jpeg(str(tmp_path / 'cut.jpg'))
    assert cv2.imread(str(tmp_path / 'cut.jpg')) is not None  # what OpenCV alone does: decodes it grey-filled
    with pytest.raises(ImageReadError, match=r'cut.jpg: truncated image file .*download or copy it again'):
        read_image(tmp_path / 'cut.jpg')
    ok, encoded = cv2.imencode('.jpg', np.full((16, 16, 3), 90, np.uint8))
    (tmp_path / 'tail.jpg').write_bytes(encoded.tobytes() + b'camera maker notes')
    assert read_image(tmp_path / 'tail.jpg').shape == (16, 16, 3)


# --------------------------------------------------------------------------------------------- 12. meta_info names
def test_names_with_spaces_round_trip_from_build_to_the_training_dataset(tmp_path):
    names = ('my photo', 'sub dir/x y', 'plain')
    detection_run_for_build(tmp_path / 'detect', names + ('line\nbreak', ' lead'))
    assert build_dataset.main(build_args(tmp_path)) == 1  # the two names a line cannot hold are refused
    out = tmp_path / 'results' / 'build'
    meta_info = out / 'meta_info.txt'
    assert meta_info.read_text() == 'my photo.png\nplain.png\nsub dir/x y.png\n'
    log = next(out.glob('build_dataset_build_*.log')).read_text()
    assert 'line\nbreak: ' in log and 'this name cannot be listed in meta_info.txt (it holds a line break' in log
    assert "lead: " in log and 'begins or ends with whitespace' in log
    dataset = DeSRADataset({'dataroot_gt': str(out / 'gt'), 'dataroot_lq': str(out / 'lq'),
                            'dataroot_mask': str(out / 'mask'), 'meta_info_file': str(meta_info), 'scale': 4,
                            'phase': 'val', 'io_backend': {'type': 'disk'}})
    lq_names = sorted(os.path.basename(path['lq_path']) for path in dataset.paths)
    assert lq_names == ['my photo.png', 'plain.png', 'x y.png']
    (tmp_path / 'basicsr.txt').write_text('0001_s001.png (480,480,3)\nmy photo.png (48, 48, 3)\n# note\n\n')
    assert read_name_list(str(tmp_path / 'basicsr.txt')) == ['0001_s001', 'my photo']
    assert meta_info_name_problem('#x').startswith('it begins with "#"')


# ------------------------------------------------------------------------------------------------- 13. stale outputs
def test_rerun_with_another_threshold_redoes_the_masks_and_says_so(tmp_path):
    args, run_root = folder_detection(tmp_path)
    assert detect.main(args) == 0
    first = read_image(run_root / 'masks' / 'a.png')
    assert first.any()
    assert detect.main(args + ['--force_yml', 'detector:threshold=0.05']) == 0
    second = read_image(run_root / 'masks' / 'a.png')
    assert not second.any() and second.shape == first.shape  # made with the new threshold, not reused
    record = json.loads((run_root / 'records' / 'a.json').read_text())
    assert record['made_with']['detector']['threshold'] == 0.05
    assert '"threshold": 0.05' in html.unescape((run_root / 'index.html').read_text())
    log = sorted(run_root.glob('detect_det_*.log'))[-1].read_text()
    assert '2 image(s) were made with other options or inputs and are redone: a, b (detector.threshold: 0.7 -> 0.05)' \
        in log
    stamps = {path: path.stat().st_mtime_ns for path in (run_root / 'masks').iterdir()}
    assert detect.main(args + ['--force_yml', 'detector:threshold=0.05']) == 0  # same options: nothing redone
    assert {path: path.stat().st_mtime_ns for path in (run_root / 'masks').iterdir()} == stamps
    time.sleep(0.01)
    mse, gan = make_pair(seed=5)
    write_image(str(tmp_path / 'gan' / 'b.png'), gan)  # a changed input is redone too
    assert detect.main(args + ['--force_yml', 'detector:threshold=0.05']) == 0
    assert (run_root / 'masks' / 'b.png').stat().st_mtime_ns != stamps[run_root / 'masks' / 'b.png']
    assert (run_root / 'masks' / 'a.png').stat().st_mtime_ns == stamps[run_root / 'masks' / 'a.png']


def test_build_redoes_samples_of_changed_masks_and_of_other_settings(tmp_path):
    detection_run_for_build(tmp_path / 'detect', ('a', 'b'))
    args = build_args(tmp_path)
    out = tmp_path / 'results' / 'build'
    assert build_dataset.main(args) == 0
    stamps = {path: path.stat().st_mtime_ns for path in out.glob('*/*.png')}
    time.sleep(0.01)
    mask = np.zeros((32, 40), np.uint8)
    mask[20:30, 20:30] = 255
    write_image(str(tmp_path / 'detect' / 'masks' / 'b.png'), mask)  # a detection rerun changed b's mask
    assert build_dataset.main(args) == 0
    np.testing.assert_array_equal(read_image(out / 'mask' / 'b.png'), mask)
    assert (out / 'gt' / 'a.png').stat().st_mtime_ns == stamps[out / 'gt' / 'a.png']
    assert build_dataset.main(build_args(tmp_path, feather_sigma=2)) == 0
    assert json.loads((out / 'build_settings.json').read_text())['feather_sigma'] == 2
    assert (out / 'gt' / 'a.png').stat().st_mtime_ns != stamps[out / 'gt' / 'a.png']
    log = sorted(out.glob('build_dataset_build_*.log'))[-1].read_text()
    assert 'were built with other settings (feather_sigma: 0.0 -> 2.0): deleted, every image is built again' in log


# ------------------------------------------------------------------------------- 14. symlinked folders, 0 images
def test_symlinked_subfolders_are_followed_and_loops_are_not(tmp_path):
    write_random_images(str(tmp_path / 'elsewhere'), ('x', 'deep/y'))
    write_random_images(str(tmp_path / 'root'), ('a',))
    os.symlink(tmp_path / 'elsewhere', tmp_path / 'root' / 'linked')
    os.symlink(tmp_path / 'root', tmp_path / 'root' / 'linked' / 'back_to_root')  # a loop
    os.symlink(tmp_path / 'elsewhere', tmp_path / 'elsewhere' / 'deep' / 'up')  # another one
    assert list_images(tmp_path / 'root') == ['a.png', 'linked/deep/y.png', 'linked/x.png']


def test_a_run_that_finds_no_image_exits_2_with_a_message(tmp_path):
    (tmp_path / 'mse').mkdir()
    (tmp_path / 'gan').mkdir()
    args = write_options(tmp_path, 'det', {'detector': DETECTOR_OPT, 'datasets': {'detect': {
        'dataroot_mse': str(tmp_path / 'mse'), 'dataroot_gan': str(tmp_path / 'gan')}}})
    result = run_command(['desra/detect.py', *args])
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith('error: no images found in ') and line.endswith('; check the dataroot options (and '
                                                                           'meta_info_file)')
    assert f'dataroot_mse {tmp_path / "mse"}' in line and f'dataroot_gan {tmp_path / "gan"}' in line


# ------------------------------------------------------------------------ 15. corrupt checkpoints, temporary files
def test_truncated_or_empty_checkpoint_gives_one_line_naming_the_file(tmp_path, tiny_rrdb_checkpoint):
    data = tiny_rrdb_checkpoint.read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    (tmp_path / 'empty.pth').write_bytes(b'')
    with pytest.raises(CorruptCheckpointError, match=r'cut.pth: not a complete checkpoint, the file is empty, '
                                                     rf'truncated or corrupt \({len(data) // 2} bytes; '):
        load_state_dict(tmp_path / 'cut.pth')
    with pytest.raises(CorruptCheckpointError, match=r'empty.pth: .* \(0 bytes; the file ends too early\)'):
        load_state_dict(tmp_path / 'empty.pth')
    # files that are no checkpoint at all: the unpickler fails with KeyError / IndexError, never a traceback
    for name, data in (('text.pth', b'hello'), ('three.pth', b'abc'), ('image.pth', b'\x89PNG\r\n\x1a\n' * 4)):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CorruptCheckpointError, match=rf'{name}: (not a complete checkpoint|not a PyTorch) .*'
                                                         rf'\({len(data)} bytes; '):
            load_state_dict(tmp_path / name)


def write_state(folder, current_iter, data=None):
    path = os.path.join(folder, f'{current_iter}.state')
    if data is None:
        torch.save({'iter': current_iter, 'weights': torch.zeros(64)}, path)
    else:
        with open(path, 'wb') as f:
            f.write(data)
    return path


def dead_pid():
    """The id of a process that has ended."""
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()
    return process.pid


def test_auto_resume_falls_back_to_the_last_good_state_and_removes_orphan_temp_files(tmp_path):
    states = tmp_path / 'exp' / 'training_states'
    states.mkdir(parents=True)
    good = write_state(states, 4)
    data = open(write_state(states, 8), 'rb').read()
    write_state(states, 8, data[:len(data) // 3])
    write_state(states, 12, b'')
    orphan = states / f'.13.desra-{images._HOST_TAG}-{dead_pid()}-abcd_123.tmp.state'
    orphan.write_bytes(b'half')
    opt = {'auto_resume': True, 'path': {'training_states': str(states), 'experiments_root': str(tmp_path / 'exp')}}
    path, state, notes = find_resume_state(opt)
    assert path == good
    assert state['iter'] == 4
    assert not orphan.exists()
    assert notes[0] == f'removed {orphan}, a temporary file of an interrupted run'
    assert notes[1].startswith(f'passed over {states / "12.state"}: not a complete checkpoint')
    assert notes[2].startswith(f'passed over {states / "8.state"}: not a complete checkpoint')
    assert notes[2].endswith('falling back to the previous state')
    os.remove(good)
    fresh_start = f'no complete training state in {states}: training starts afresh'
    assert find_resume_state(opt) == (None, None, notes[1:3] + [fresh_start])


def test_only_our_temp_files_of_ended_processes_are_removed(tmp_path):
    ours_dead = tmp_path / 'sub' / f'.a.desra-{images._HOST_TAG}-{dead_pid()}-abcdefgh.tmp.png'
    ours_alive = tmp_path / f'.b.desra-{images._HOST_TAG}-{os.getpid()}-abcdefgh.tmp.png'
    other_host = tmp_path / '.c.desra-otherhost-1-abcdefgh.tmp.png'
    not_ours = [tmp_path / '.d.abcdefgh.tmp.png', tmp_path / 'e.png', tmp_path / '.f.desra-x-1-abc.tmp']
    for path in [ours_dead, ours_alive, other_host, *not_ours]:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b'x')
    assert remove_stale_temp_files(tmp_path) == [str(ours_dead)]
    old = time.time() - images.FOREIGN_TEMP_AGE - 60
    os.utime(other_host, (old, old))
    assert remove_stale_temp_files(tmp_path) == [str(other_host)]
    assert all(path.exists() for path in [ours_alive, *not_ours])
    with atomic_output(tmp_path / 'g.png') as tmp:  # the pattern is what atomic_output writes
        assert images._TEMP_NAME.match(os.path.basename(tmp))
        open(tmp, 'wb').close()
        assert remove_stale_temp_files(tmp_path) == []  # a live writer's file is kept


# ----------------------------------------------------------------------------- 16. exit statuses and messages
@pytest.mark.parametrize('error,line', [
    (yaml.YAMLError('mapping values are not allowed here\n  in "x.yml", line 2, column 5'),
     'error: malformed YAML: mapping values are not allowed here in "x.yml", line 2, column 5'),
    (OSError(28, 'No space left on device', '/data/out.png'), 'error: /data/out.png: No space left on device'),
    (PermissionError(13, 'Permission denied', '/ro/run'), 'error: /ro/run: Permission denied'),
    (TypeError("'<' not supported between instances of 'str' and 'int'"),
     "error: '<' not supported between instances of 'str' and 'int' (an option has the wrong type?)"),
])
def test_user_errors_exit_2_with_one_line(error, line, capsys):
    def main():
        raise error

    with pytest.raises(SystemExit) as exit_info:
        run_main(main)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == line + '\n'


def test_results_root_that_is_a_file_is_one_line_not_a_traceback(tmp_path):
    (tmp_path / 'afile').write_text('')
    args, _ = folder_detection(tmp_path)
    result = run_command(['desra/detect.py', *args, '--force_yml', f'path:results_root={tmp_path / "afile"}'])
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f'error: {tmp_path / "afile"}')


def test_long_failure_lists_are_capped_with_a_count(tmp_path, caplog):
    lines = [f'img{i}: bad' for i in range(57)]
    block = capped_lines(lines)
    assert block.splitlines()[-1] == '    ... and 37 more' and len(block.splitlines()) == 21
    logger = logging.getLogger('desra.test_cap')
    with caplog.at_level(logging.INFO, logger='desra.test_cap'):
        status = finish([Failure(f'img{i}', 'bad') for i in range(57)], {'rank': 0, 'dist': False}, logger)
    assert status == 1
    assert '57 image(s) could not be processed' in caplog.text and '... and 37 more' in caplog.text
    assert 'img20: bad' not in caplog.text and 'img19: bad' in caplog.text


def test_two_runs_started_in_the_same_second_get_their_own_log_files(tmp_path):
    paths = [new_log_file(str(tmp_path), 'detect_run') for _ in range(3)]
    assert len(set(paths)) == 3 and all(os.path.isfile(path) for path in paths)
    assert re.fullmatch(r'detect_run_\d{8}_\d{6}(_[23])?\.log', os.path.basename(paths[-1]))


def test_stage2_scale_mismatch_names_the_lr_file(tmp_path):
    detection_run_for_build(tmp_path / 'detect', ('a',))
    lr_path = tmp_path / 'detect' / 'lr' / 'a.png'
    write_image(str(lr_path), np.zeros((6, 10, 3), np.uint8))  # a wrong LR image; SR and mask agree
    assert build_dataset.main(build_args(tmp_path)) == 1
    log = next((tmp_path / 'results' / 'build').glob('build_dataset_build_*.log')).read_text()
    assert f'skipped a: size mismatch at scale 4: LR {lr_path} is 6x10, so SR should be 24x40 (check the LR image ' \
           'and scale)' in log


def test_stale_outputs_that_overlap_an_input_folder_are_not_deleted(tmp_path):
    detection_run_for_build(tmp_path / 'detect', ('a',))
    out = tmp_path / 'results' / 'build'
    assert build_dataset.main(build_args(tmp_path)) == 0
    args = build_args(tmp_path, feather_sigma=2)
    opt = yaml.safe_load(open(args[1]))
    opt['datasets']['build']['dataroot_lq'] = str(out / 'lq')  # an input inside the outputs to delete
    with open(args[1], 'w') as f:
        yaml.safe_dump(opt, f)
    with pytest.raises(ValueError, match=rf'results folder {out} contains the input folder datasets:build:dataroot_lq'):
        build_dataset.main(args)
    assert (out / 'lq' / 'a.png').is_file()
