"""The detect command end to end on tiny synthetic MSE-SR / GAN-SR pairs: folders mode, LR mode, reruns, torchrun.

A synthetic pair is a smooth gradient (MSE-SR) and the same gradient with strong noise inside a box (GAN-SR): the
contrast is low in the box, so the detector (segmenter none, small ``min_area``) finds one artifact part there.
"""
import csv
import html
import json
import os
import re
from urllib.parse import unquote

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import REPO_ROOT, TINY_RRDB_OPT, run_command, save_tiny_checkpoints, write_random_images

from desra.detection import ArtifactDetector
from desra.detection.pairs import ImageItem, collect_items
from desra.inference import TiledUpsampler, build_sr_network
from desra.inference import sr_cache
from desra.inference.sr_cache import SRCache
from desra.io.images import decode_image, decoded_rgb255, load_rgb255, read_image, write_image

DETECTOR_OPT = {'window_size': 11, 'threshold': 0.7, 'min_area': 4000, 'segmenter': {'type': 'none'}}
#: Overrides every run gets: the small synthetic parts must survive the area filter.
FORCE = ['detector:min_area=50']
BORDER = DETECTOR_OPT['window_size'] // 2


def make_pair(height, width, box, seed=0):
    """uint8 RGB (MSE-SR, GAN-SR) of (height, width); the GAN-SR has noise of std 40 in box = (y0, x0, y1, x1)."""
    yy, xx = np.mgrid[0:height, 0:width]
    mse = np.stack([60 + xx, 60 + yy, 60 + (xx + yy) // 2], axis=2).astype(np.float64)
    gan = mse.copy()
    y0, x0, y1, x1 = box
    gan[y0:y1, x0:x1] += np.random.default_rng(seed).normal(0, 40, (y1 - y0, x1 - x0, 3))
    return np.clip(mse, 0, 255).astype(np.uint8), np.clip(gan, 0, 255).astype(np.uint8)


def write_options(path, results_root, dataset, paths=None, **extra):
    """Write a detect option file with ``datasets: detect: dataset``, results under ``results_root``, more
    ``path:`` entries ``paths`` and more top-level options ``extra``."""
    opt = {'name': 'run', 'num_gpu': 0, 'manual_seed': 0, 'datasets': {'detect': dataset},
           'detector': DETECTOR_OPT, 'path': {'results_root': str(results_root), **(paths or {})}, **extra}
    path.write_text(yaml.safe_dump(opt))
    return str(path)


def detect(opt_path, *extra_args, force=()):
    """Run ``desra/detect.py`` in a subprocess; return the CompletedProcess."""
    return run_command(['desra/detect.py', '-opt', opt_path, '--force_yml', *FORCE, *force, *extra_args])


def read_summary(run_root):
    with open(os.path.join(run_root, 'summary.csv'), newline='') as f:
        return {row['image']: row for row in csv.DictReader(f)}


#: The good pairs of the folders-mode dataset: name -> (MSE-SR file, GAN-SR file, how to store the uint8 RGB pair).
GOOD = {
    'plain': ('plain.png', 'plain.png', 'rgb'),
    'sub/other_ext': ('sub/other_ext.png', 'sub/other_ext.bmp', 'rgb'),
    'deep16': ('deep16.png', 'deep16.png', 'uint16'),
    'gray': ('gray.png', 'gray.png', 'gray'),
    'alpha': ('alpha.png', 'alpha.png', 'rgba'),
}
BOX = (20, 24, 44, 52)


def store(path, rgb, kind):
    """Write a uint8 RGB image as 8-bit RGB, 16-bit RGB, grayscale or RGBA."""
    bgr = rgb[..., ::-1]
    img = {'rgb': bgr, 'uint16': bgr.astype(np.uint16) * 257, 'gray': rgb[..., 0],
           'rgba': np.dstack([bgr, np.full(rgb.shape[:2], 200, np.uint8)])}[kind]
    write_image(path, np.ascontiguousarray(img))


@pytest.fixture(scope='module')
def folder_run(tmp_path_factory):
    """A folders-mode run over five good pairs and four bad ones; returns (tmp dir, run root, first run's result)."""
    tmp = tmp_path_factory.mktemp('detect_folders')
    mse_root, gan_root = tmp / 'mse', tmp / 'gan'
    for index, (name, (mse_file, gan_file, kind)) in enumerate(GOOD.items()):
        mse, gan = make_pair(64, 80, BOX, seed=index)
        store(str(mse_root / mse_file), mse, kind)
        store(str(gan_root / gan_file), gan, kind)
    mse, gan = make_pair(64, 64, BOX)
    write_image(str(mse_root / 'mismatch.png'), mse)
    write_image(str(gan_root / 'mismatch.png'), gan[:60, :62])
    write_image(str(mse_root / 'orphan.png'), mse)
    write_image(str(mse_root / 'tiny.png'), mse[:9, :9])
    write_image(str(gan_root / 'tiny.png'), gan[:9, :9])
    (mse_root / 'notes.txt').write_text('not an image')
    (gan_root / 'notes.txt').write_text('not an image')
    opt_path = write_options(tmp / 'detect.yml', tmp / 'results',
                             {'dataroot_mse': str(mse_root), 'dataroot_gan': str(gan_root)})
    return tmp, str(tmp / 'results' / 'run'), opt_path, detect(opt_path)


def test_bad_inputs_are_reported_with_paths_and_the_run_goes_on(folder_run):
    tmp, run_root, _, result = folder_run
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert '4 image(s) could not be processed' in output
    mse_root, gan_root = tmp / 'mse', tmp / 'gan'
    assert re.search(rf'size mismatch: MSE-SR {mse_root}/mismatch.png is 64x64 \(WxH\), GAN-SR '
                     rf'{gan_root}/mismatch.png is 62x60 \(WxH\)', output)
    assert f'{mse_root}/orphan.png (MSE-SR) has no GAN-SR counterpart' in output
    assert f'{mse_root}/notes.txt: not a readable image' in output
    assert re.search(rf'too small.*MSE-SR {mse_root}/tiny.png and GAN-SR {gan_root}/tiny.png, 9x9', output)
    assert set(read_summary(run_root)) == set(GOOD)  # every good image was processed despite the bad ones
    html_text = open(os.path.join(run_root, 'index.html'), encoding='utf-8').read()
    assert '4 image(s) skipped' in html_text and 'orphan.png' in html_text


def test_outputs_match_the_detector(folder_run):
    tmp, run_root, _, _ = folder_run
    detector = ArtifactDetector(dict(DETECTOR_OPT, min_area=50))
    for name, (mse_file, gan_file, _) in GOOD.items():
        mse, gan = load_rgb255(str(tmp / 'mse' / mse_file)), load_rgb255(str(tmp / 'gan' / gan_file))
        expected = detector.detect(mse, gan)
        mask = read_image(os.path.join(run_root, 'masks', f'{name}.png'))
        assert mask.dtype == np.uint8 and mask.shape == gan.shape[:2]
        assert set(np.unique(mask)) == {0, 255}
        np.testing.assert_array_equal(mask == 255, expected.mask)
        assert not mask[:BORDER].any() and not mask[-BORDER:].any()
        assert not mask[:, :BORDER].any() and not mask[:, -BORDER:].any()
        # the artifact is the noise box, enlarged by the dilation
        y0, x0, y1, x1 = BOX
        assert mask[y0 + 4:y1 - 4, x0 + 4:x1 - 4].all()
        for kind, values in (('contrast', expected.contrast), ('adjusted', expected.adjusted)):
            stored = read_image(os.path.join(run_root, kind, f'{name}.png'))
            assert stored.dtype == np.uint16
            np.testing.assert_array_equal(stored, np.round(np.clip(values, 0, 1) * 65535).astype(np.uint16))
        overlay = read_image(os.path.join(run_root, 'overlays', f'{name}.png'))
        assert overlay.shape == gan.shape and overlay.dtype == np.uint8
    assert not os.path.exists(os.path.join(run_root, 'seg'))  # no segmenter, no class maps


def test_summary_matches_the_masks(folder_run):
    _, run_root, _, result = folder_run
    assert 'semantic adjustment skipped' in result.stderr
    rows = read_summary(run_root)
    for name, row in rows.items():
        mask = read_image(os.path.join(run_root, 'masks', f'{name}.png')) > 0
        pixels = int(mask.sum())
        assert (int(row['height']), int(row['width'])) == mask.shape
        assert int(row['artifact_pixels']) == pixels > 0
        assert float(row['fraction']) == pytest.approx(pixels / mask.size)
        assert int(row['parts']) == cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1 == 1
        with open(os.path.join(run_root, 'records', f'{name}.json')) as f:
            record = json.load(f)
        assert record['artifact_pixels'] == pixels and len(record['part_list']) == 1


def test_report_pictures_exist(folder_run):
    _, run_root, _, _ = folder_run
    html_text = open(os.path.join(run_root, 'index.html'), encoding='utf-8').read()
    sources = re.findall(r'<img(?: class="top")? src="([^"]+)"', html_text)
    # per image: overlay, heat map, the two pictures of the MSE-SR / GAN-SR slider and the MSE-SR; per part its two
    # crops on its card, then in its zoom the two of its slider and the two crops
    assert len(sources) == len(GOOD) * (5 + 6)
    for src in sources:
        path = unquote(html.unescape(src))
        assert not os.path.isabs(path) and os.path.isfile(os.path.join(run_root, path)), path


def test_rerun_skips_finished_images_and_redoes_unfinished_ones(folder_run):
    _, run_root, opt_path, _ = folder_run
    masks = {name: os.path.join(run_root, 'masks', f'{name}.png') for name in GOOD}
    mtimes = {name: os.stat(path).st_mtime_ns for name, path in masks.items()}
    os.remove(masks['gray'])  # as if the run had been stopped before finishing this image
    result = detect(opt_path)
    assert result.returncode == 1  # the bad inputs are still there, and are tried again
    assert '4 of 8 images already done in an earlier run: skipped' in result.stderr
    assert os.path.isfile(masks['gray'])
    for name in GOOD:
        if name != 'gray':
            assert os.stat(masks[name]).st_mtime_ns == mtimes[name]
    assert set(read_summary(run_root)) == set(GOOD)


def test_lr_mode_makes_and_caches_the_sr_results(tmp_path):
    lr_root = tmp_path / 'lr'
    write_random_images(str(lr_root), ('a', 'sub/b', 'unlisted'))
    (tmp_path / 'names.txt').write_text('a.png\nsub/b\n')
    checkpoints = save_tiny_checkpoints(str(tmp_path), ('mse', 'gan'), param_key='params_ema')
    opt_path = write_options(
        tmp_path / 'detect.yml', tmp_path / 'results',
        {'dataroot_lq': str(lr_root), 'meta_info_file': str(tmp_path / 'names.txt')},
        {'pretrain_network_mse': checkpoints['mse'], 'pretrain_network_gan': checkpoints['gan']}, scale=4,
        network_mse=TINY_RRDB_OPT, network_gan=TINY_RRDB_OPT, tile={'tile_size': 8, 'tile_pad': 2})
    result = detect(opt_path, force=['detector:threshold=0.99'])
    assert result.returncode == 0, result.stderr
    run_root = tmp_path / 'results' / 'run'
    assert set(read_summary(str(run_root))) == {'a', 'sub/b'}
    for role in ('mse', 'gan'):
        upsampler = TiledUpsampler(build_sr_network(TINY_RRDB_OPT, checkpoints[role]), 4, tile=8, tile_pad=2)
        expected = upsampler.upscale_rgb(decode_image(read_image(str(lr_root / 'a.png'))).rgb)
        cached = read_image(str(run_root / f'sr_{role}' / 'a.png'))
        assert cached.shape == (48, 56, 3)
        np.testing.assert_array_equal(cached[..., ::-1], np.round(expected * 255).astype(np.uint8))
    assert read_image(str(run_root / 'masks' / 'sub' / 'b.png')).shape == (48, 56)
    lr_picture = read_image(str(run_root / 'report' / 'lr' / 'a.png'))
    assert lr_picture.shape == (48, 56, 3)  # the LR image enlarged to the SR size for the report
    assert not (run_root / 'sr_gan' / 'unlisted.png').exists()


def test_sr_cache_reads_each_lr_image_once_for_all_its_results(tmp_path, monkeypatch):
    roles = ('mse', 'gan', 'finetuned')
    write_random_images(str(tmp_path / 'lr'), ('a',))
    checkpoints = save_tiny_checkpoints(str(tmp_path), roles)
    opt = {'scale': 4, 'path': {f'pretrain_network_{role}': checkpoints[role] for role in roles},
           **{f'network_{role}': TINY_RRDB_OPT for role in roles}}
    item = ImageItem('a', {role: str(tmp_path / f'sr_{role}' / 'a.png') for role in roles},
                     str(tmp_path / 'lr' / 'a.png'))
    reads, written = [], []
    imread, upscale_decoded = cv2.imread, sr_cache.upscale_decoded
    monkeypatch.setattr(cv2, 'imread', lambda path, *args: reads.append(path) or imread(path, *args))
    monkeypatch.setattr(sr_cache, 'upscale_decoded',
                        lambda upsampler, lq, path: written.append(path) or upscale_decoded(upsampler, lq, path))
    cache = SRCache(opt, roles, torch.device('cpu'))

    def ensure(**kwargs):
        """Run ``cache.ensure``; return the LR files it read and the roles it wrote."""
        reads.clear()
        written.clear()
        cache.ensure(item, **kwargs)
        return reads[:], [role for role in roles if item.sr_paths[role] in written]

    assert ensure() == ([item.lq_path], list(roles))  # one read for the three results
    assert all(os.path.isfile(path) for path in item.sr_paths.values())
    assert ensure() == ([], [])  # all cached: the LR image is not even read
    os.remove(item.sr_paths['gan'])
    assert ensure() == ([item.lq_path], ['gan'])
    assert ensure(overwrite=True) == ([item.lq_path], list(roles))
    assert cache.ensure(item) is None  # nothing read: the caller reads the LR image itself when it needs it
    lq = cache.ensure(item, overwrite=True)  # read: handed back, so the report's LR picture needs no second read
    np.testing.assert_array_equal(decoded_rgb255(lq), load_rgb255(item.lq_path))


def test_torchrun_shares_the_images_between_processes(tmp_path):
    mse_root, gan_root = tmp_path / 'mse', tmp_path / 'gan'
    names = [f'img{i}' for i in range(4)]
    for index, name in enumerate(names):
        mse, gan = make_pair(48, 56, (12, 12, 36, 40), seed=index)
        write_image(str(mse_root / f'{name}.png'), mse)
        write_image(str(gan_root / f'{name}.png'), gan)
    opt_path = write_options(tmp_path / 'detect.yml', tmp_path / 'results',
                             {'dataroot_mse': str(mse_root), 'dataroot_gan': str(gan_root)})
    result = run_command(['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', 'desra/detect.py',
                          '-opt', opt_path, '--launcher', 'pytorch', '--force_yml', *FORCE],
                         env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout + result.stderr
    run_root = str(tmp_path / 'results' / 'run')
    assert '2 images processed' in result.stderr  # rank 0's share of the four
    assert set(read_summary(run_root)) == set(names)  # rank 0 summarised both ranks' images
    for name in names:
        assert os.path.isfile(os.path.join(run_root, 'masks', f'{name}.png'))


def test_sr_folders_with_lr_images_of_other_names_warn_and_go_on(tmp_path):
    """SR results on disk named as infer's default suffix leaves them (``<stem>_out``) do not pair with their LR
    images: the run goes on and the log names them, instead of silently leaving the LR pictures out."""
    for role in ('mse', 'gan'):
        write_random_images(str(tmp_path / role), ('a', 'b'), shape=(32, 32, 3), seed={'mse': 0, 'gan': 1}[role])
    write_random_images(str(tmp_path / 'lr'), ('a', 'b_out'), shape=(8, 8, 3))
    opt_path = write_options(tmp_path / 'detect.yml', tmp_path / 'results', {
        'dataroot_mse': str(tmp_path / 'mse'), 'dataroot_gan': str(tmp_path / 'gan'),
        'dataroot_lq': str(tmp_path / 'lr')}, scale=4)
    result = detect(opt_path)
    assert result.returncode == 0, result.stderr
    assert (f'1 of 2 images have no LR image of the same name in {tmp_path / "lr"} (dataroot_lq); they are '
            'detected and reported without it:\n  - b') in result.stderr
    assert set(read_summary(str(tmp_path / 'results' / 'run'))) == {'a', 'b'}


def test_an_input_replaced_by_another_of_the_same_size_is_detected_again(tmp_path):
    """An input's identity is its size *and* modification time: a GAN-SR image replaced by another of exactly the
    same byte size (an uncompressed BMP of the same shape), as a re-export would leave it, is detected again."""
    mse, gan = make_pair(64, 80, BOX)
    write_image(str(tmp_path / 'mse' / 'a.png'), mse)
    gan_path = tmp_path / 'gan' / 'a.bmp'
    write_image(str(gan_path), gan)
    opt_path = write_options(tmp_path / 'detect.yml', tmp_path / 'results',
                             {'dataroot_mse': str(tmp_path / 'mse'), 'dataroot_gan': str(tmp_path / 'gan')})
    assert detect(opt_path).returncode == 0
    mask_path = tmp_path / 'results' / 'run' / 'masks' / 'a.png'
    assert read_image(str(mask_path)).any()
    size, mtime = gan_path.stat().st_size, gan_path.stat().st_mtime_ns
    write_image(str(gan_path), mse)  # the artifacts are gone in the new file, whose size is the same
    os.utime(gan_path, ns=(mtime + 5 * 10**9, mtime + 5 * 10**9))
    assert gan_path.stat().st_size == size
    result = detect(opt_path)
    assert result.returncode == 0, result.stderr
    assert '1 image(s) were made with other options or inputs and are redone' in result.stderr
    assert not read_image(str(mask_path)).any()  # detected again, on the new file


def test_a_run_with_no_pair_it_can_use_exits_2_before_making_its_folder(tmp_path):
    mse, gan = make_pair(32, 32, (4, 4, 20, 20))
    write_image(str(tmp_path / 'mse' / 'a.png'), mse)
    write_image(str(tmp_path / 'gan' / 'b.png'), gan)
    opt_path = write_options(tmp_path / 'detect.yml', tmp_path / 'results',
                             {'dataroot_mse': str(tmp_path / 'mse'), 'dataroot_gan': str(tmp_path / 'gan')})
    result = detect(opt_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith('error: none of the 2 images found in dataroot_') and 'a.png (MSE-SR) has no GAN-SR' \
        in result.stderr and 'Traceback' not in result.stderr
    assert not (tmp_path / 'results').exists()


def test_one_sr_folder_without_the_other_says_which_key_to_clear(tmp_path):
    (tmp_path / 'lr').mkdir()
    (tmp_path / 'mse').mkdir()
    with pytest.raises(ValueError, match=r'dataroot_mse is set but dataroot_gan is not: SR results on disk need both '
                                         r'folders; for LR images only .* set dataroot_mse to ~'):
        collect_items({'dataroot_lq': str(tmp_path / 'lr'), 'dataroot_mse': str(tmp_path / 'mse')}, str(tmp_path))
    with pytest.raises(ValueError, match='set datasets dataroot_lq'):
        collect_items({}, str(tmp_path))


def test_the_shipped_template_takes_lr_images_from_one_override(tmp_path):
    """README: ``desra-detect -opt options/detect.yml --force_yml datasets:detect:dataroot_lq=my_lr_images`` is LR
    mode; what is still missing is the networks' weights and SegFormer's, each with where to get it."""
    (tmp_path / 'my_lr_images').mkdir()
    result = run_command(['desra/detect.py', '-opt', os.path.join(REPO_ROOT, 'options', 'detect.yml'), '--root',
                          str(tmp_path), '--force_yml', f'datasets:detect:dataroot_lq={tmp_path / "my_lr_images"}',
                          'path:pretrain_network_mse=absent/RealESRNet_x4plus.pth',
                          'path:pretrain_network_gan=absent/RealESRGAN_x4plus.pth'])
    assert result.returncode == 2
    assert 'dataroot_mse' not in result.stderr and 'dataroot_gan' not in result.stderr
    assert 'path:pretrain_network_mse: absent/RealESRNet_x4plus.pth: no such file' in result.stderr
    assert '`desra-weights` (offline' in result.stderr and 'detector:segmenter:model_path' in result.stderr
    assert not (tmp_path / 'results').exists()


def test_the_gan_given_as_its_own_mse_reference_is_warned_about(tmp_path):
    write_random_images(str(tmp_path / 'lr'), ('a',))
    checkpoints = save_tiny_checkpoints(str(tmp_path), ('gan',))
    copy = tmp_path / 'copy_of_gan.pth'
    copy.write_bytes(open(checkpoints['gan'], 'rb').read())  # another file, the same weights
    opt_path = write_options(tmp_path / 'detect.yml', tmp_path / 'results', {'dataroot_lq': str(tmp_path / 'lr')},
                             {'pretrain_network_mse': str(copy), 'pretrain_network_gan': checkpoints['gan']}, scale=4,
                             network_mse=TINY_RRDB_OPT, network_gan=TINY_RRDB_OPT)
    result = detect(opt_path)
    assert result.returncode == 0, result.stderr
    assert (f'WARNING: network_mse and network_gan have the same weights ({copy}, {checkpoints["gan"]}): the contrast '
            'is 1 everywhere and no artifact can be found') in result.stderr
    (tmp_path / 'other').mkdir()
    other = save_tiny_checkpoints(str(tmp_path / 'other'), ('mse', 'gan'))['gan']  # another seed: other weights
    assert 'same weights' not in detect(opt_path, force=[f'path:pretrain_network_mse={other}']).stderr


def test_the_terminal_shows_the_stages_and_the_log_file_the_rest(tmp_path):
    """basicsr's banner and the option dump go to the log file only; the terminal keeps one line per stage."""
    write_random_images(str(tmp_path / 'lr'), ('a',))
    checkpoints = save_tiny_checkpoints(str(tmp_path), ('mse', 'gan'))
    opt_path = write_options(tmp_path / 'detect.yml', tmp_path / 'results', {'dataroot_lq': str(tmp_path / 'lr')},
                             {'pretrain_network_mse': checkpoints['mse'], 'pretrain_network_gan': checkpoints['gan']},
                             scale=4, network_mse=TINY_RRDB_OPT, network_gan=TINY_RRDB_OPT)
    result = detect(opt_path)
    assert result.returncode == 0, result.stderr
    terminal = result.stdout + result.stderr
    log = next((tmp_path / 'results' / 'run').glob('detect_run_*.log')).read_text()
    for noise in ('Version Information', 'PyTorch: ', 'datasets:[', 'detector:['):
        assert noise in log and noise not in terminal, noise
    assert '1 images, SR results made from the LR images by network_mse, network_gan' in terminal
    assert len([line for line in terminal.splitlines() if ' INFO: ' in line]) <= 8, terminal
