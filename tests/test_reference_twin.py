"""The reference twin (issue 16): desra/train.py with model_type ReferenceTwinModel on tiny networks, on the CPU,
and the reference kind detection reports."""
import html
import importlib.util
import json
import os

import cv2
import numpy as np
import pytest
import torch
import yaml

import desra  # noqa: F401,I001  (registrations, before basicsr)
from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.data import build_dataset

from desra import train
from desra.archs.auto_arch import detect_network
from desra.archs.frozen_features import FrozenFeatures, select_trained_params
from desra.data.reference_twin_dataset import ReferenceTwinDataset
from desra.models.reference_twin_model import ReferenceTwinModel
from desra.io.images import write_image
from desra.metrics.realism import laplacian_detail
from desra.training.twin_check import check_hr_folder, check_validation_pairs
from desra.weights.reference import reference_of
from tests.conftest import REPO_ROOT, TINY_RRDB_OPT, run_command, save_tiny_checkpoints, write_random_images

#: The head of a tiny RRDBNet (1 block) after its body, under basicsr's names (the checkpoint's) and spandrel's.
TINY_TAIL = ['conv_body', 'conv_up1', 'conv_up2', 'conv_hr', 'conv_last']
TINY_TAIL_SPANDREL = [r'model\.1\.sub\.1\.', r'model\.(3|6|8|10)\.']


def tiny_esrgan(seed=0):
    """A tiny x4 RRDBNet that spandrel detects (it assumes 32 growth channels)."""
    torch.manual_seed(seed)
    return RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=32)


def smooth_image(rng, height, width):
    """A smooth random uint8 RGB image (low-frequency noise upscaled), something a pixel loss can learn."""
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def make_photos(root, sizes=((96, 80), (72, 88))):
    """HR photos ``<root>/hr/<i>.png`` and LR / HR validation pairs ``<root>/val_{lr,hr}/v.png``."""
    rng = np.random.default_rng(0)
    for i, (height, width) in enumerate(sizes):
        write_image(str(root / 'hr' / f'{i}.png'), smooth_image(rng, height, width))
    hr = smooth_image(rng, 64, 64)
    write_image(str(root / 'val_hr' / 'v.png'), hr)
    write_image(str(root / 'val_lr' / 'v.png'), hr[::4, ::4])
    return root


def write_options(tmp_path, name, gan_path, mode='tail', network_g=None, **overrides):
    """A tiny twin run: x4, gt_size 32, batch 2, 4 iterations, checkpoint and validation every 2 (``overrides``:
    ``a:b`` keys)."""
    opt = {
        'name': name, 'model_type': 'ReferenceTwinModel', 'scale': 4, 'num_gpu': 0, 'manual_seed': 3,
        'queue_size': 4,
        'datasets': {
            'train': {'name': 'hr', 'type': 'ReferenceTwinDataset', 'dataroot_gt': str(tmp_path / 'hr'),
                      'io_backend': {'type': 'disk'}, 'gt_size': 32, 'crop_pad_size': 48, 'num_worker_per_gpu': 0,
                      'batch_size_per_gpu': 2, 'dataset_enlarge_ratio': 4},
            'val': {'name': 'pairs', 'type': 'ReferenceTwinDataset', 'dataroot_gt': str(tmp_path / 'val_hr'),
                    'dataroot_lq': str(tmp_path / 'val_lr'), 'io_backend': {'type': 'disk'}}},
        'network_g': network_g or {'type': 'auto'},
        'path': {'pretrain_network_g': str(gan_path), 'strict_load_g': True},
        'train': {'twin_mode': mode, 'trained_params': TINY_TAIL_SPANDREL if mode == 'tail' else None,
                  'feature_pool': 3,
                  'ema_decay': 0.5, 'optim_g': {'type': 'Adam', 'lr': 1e-2, 'betas': [0.9, 0.99]},
                  'scheduler': {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5},
                  'total_iter': 4, 'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0}},
        'val': {'val_freq': 2},
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 2, 'use_tb_logger': False},
    }
    for key, value in overrides.items():
        node = opt
        *parents, last = key.split(':')
        for parent in parents:
            node = node[parent]
        node[last] = value
    path = tmp_path / f'{name}.yml'
    path.write_text(yaml.safe_dump(opt))
    return path


def gan_psnr_on_pair(gan_checkpoint, root):
    """The GAN's own PSNR (dB) on make_photos' validation pair, by the equation: its x4 output of ``val_lr/v.png``
    against ``val_hr/v.png``, RGB uint8, 4 border pixels cropped, ``10 log10(255^2 / MSE)``."""
    net = detect_network(str(gan_checkpoint)).eval()
    lq = cv2.imread(str(root / 'val_lr' / 'v.png'))[:, :, ::-1].astype(np.float32) / 255
    with torch.no_grad():
        sr = net(torch.from_numpy(lq.transpose(2, 0, 1).copy())[None]).clamp(0, 1)[0].numpy().transpose(1, 2, 0)
    sr = (sr * 255).round().astype(np.float64)[4:-4, 4:-4]
    hr = cv2.imread(str(root / 'val_hr' / 'v.png'))[:, :, ::-1].astype(np.float64)[4:-4, 4:-4]
    return 10 * np.log10(255 ** 2 / np.mean((sr - hr) ** 2))


def twin_output_on_pair(net, root):
    """``net``'s x4 output of make_photos' ``val_lr/v.png``: (H, W, 3) RGB, uint8 values as float64."""
    lq = cv2.imread(str(root / 'val_lr' / 'v.png'))[:, :, ::-1].astype(np.float32) / 255
    was_training = net.training
    net.eval()
    with torch.no_grad():
        sr = net(torch.from_numpy(lq.transpose(2, 0, 1).copy())[None]).clamp(0, 1)[0].numpy().transpose(1, 2, 0)
    net.train(was_training)
    return (sr * 255).round().astype(np.float64)


def gan_detail_on_pair(gan_checkpoint, root):
    """The detail of the GAN's own output on make_photos' validation pair (mean absolute 4-neighbour Laplacian of
    its grey image, grey levels per pixel)."""
    return laplacian_detail(twin_output_on_pair(detect_network(str(gan_checkpoint)), root))


def log_of(root, name):
    """The log files of run ``name`` under ``root/experiments``, concatenated."""
    return ''.join(path.read_text() for path in (root / 'experiments' / name).glob(f'train_{name}_*.log'))


@pytest.fixture
def gan_checkpoint(tmp_path):
    """A tiny x4 RRDBNet checkpoint standing for a GAN model without a parent (``params_ema``)."""
    path = tmp_path / 'gan.pth'
    torch.save({'params_ema': tiny_esrgan().state_dict()}, path)
    return path


def run(tmp_path, option_file, *extra):
    return train.main(['-opt', str(option_file), *extra], root_path=str(tmp_path))


def test_tail_mode_trains_only_the_tail_and_writes_a_twin(tmp_path, gan_checkpoint):
    make_photos(tmp_path)
    (tmp_path / 'hr' / 'corrupt.png').write_bytes(b'not an image')  # skipped: the run goes on with the other two
    write_image(str(tmp_path / 'val_hr' / 'w.png'), np.zeros((64, 64, 3), np.uint8))
    (tmp_path / 'val_lr' / 'w.png').write_bytes(b'not an image')  # a validation pair skipped: validated on v
    assert run(tmp_path, write_options(tmp_path, 'twin', gan_checkpoint)) == 0
    models = tmp_path / 'experiments' / 'twin' / 'models'
    gan = torch.load(gan_checkpoint, weights_only=True)['params_ema']
    twin = torch.load(models / 'net_g_latest.pth', weights_only=True)
    assert twin['reference'] == {'kind': 'twin', 'twin_of': str(gan_checkpoint), 'twin_mode': 'tail'}
    changed = {name for name, value in twin['params'].items() if not torch.equal(value, gan[name])}
    assert changed and all(name.split('.')[0] in TINY_TAIL for name in changed)
    assert all(torch.equal(twin['params'][name], gan[name]) for name in gan if name.split('.')[0] not in TINY_TAIL)
    tail = torch.load(models / 'tail_latest.pth', weights_only=True)['params']
    assert sorted(tail) == sorted(name for name in gan if name.split('.')[0] in TINY_TAIL)
    assert all(value.dtype == torch.float16 for value in tail.values())
    summary = json.loads((tmp_path / 'experiments' / 'twin' / 'reference_twin.json').read_text())
    assert summary['checkpoint'] == str(models / 'net_g_latest.pth') and summary['twin_mode'] == 'tail'
    record = summary['validation']['pairs']
    assert set(record) >= {'psnr', 'psnr_gan', 'psnr_bicubic', 'worse_than_bicubic', 'no_gain_over_gan'}
    assert record['images'] == 1 and record['psnr_gan'] == pytest.approx(gan_psnr_on_pair(gan_checkpoint, tmp_path))
    twin_db, gan_db, bicubic_db = record['psnr'], record['psnr_gan'], record['psnr_bicubic']
    corrupt = str(tmp_path / 'hr' / 'corrupt.png')
    assert summary['hr_images'] == 2
    assert summary['skipped_hr_images'] == [f'{corrupt}: not a readable image (OpenCV could not decode it)']
    corrupt_lr = str(tmp_path / 'val_lr' / 'w.png')
    assert summary['skipped_val_pairs'] == {'pairs': [f'{corrupt_lr}: not a readable image (OpenCV could not '
                                                      'decode it)']}
    log = log_of(tmp_path, 'twin')
    warnings = [line for line in log.splitlines() if 'WARNING' in line and corrupt in line]
    assert len(warnings) == 2  # at the start and in the summary at the end
    assert 'HR image skipped (the twin trains on the other 2 of 3)' in warnings[0]
    warnings = [line for line in log.splitlines() if 'WARNING' in line and corrupt_lr in line]
    assert len(warnings) == 2
    assert 'validation pair of pairs skipped (the twin is validated on the other 1 of 2)' in warnings[0]
    assert 'validation pair of pairs skipped (the twin was validated on the other 1)' in warnings[1]
    assert (f'Validation pairs @ iter 4: PSNR against HR: twin {twin_db:.2f} dB, GAN {gan_db:.2f} dB, bicubic '
            f'{bicubic_db:.2f} dB; detail of the output ') in log and "of the GAN's (1 images)" in log
    assert (f'  pairs: PSNR twin {twin_db:.2f} dB, GAN {gan_db:.2f} dB, bicubic {bicubic_db:.2f} dB: '
            f'{twin_db - gan_db:+.2f} dB over the GAN, {twin_db - bicubic_db:+.2f} dB against bicubic') in log


def test_the_gans_own_psnr_is_measured_once_before_training(tmp_path, gan_checkpoint):
    make_photos(tmp_path)
    from desra.config.options import parse_command_options
    opt, _ = parse_command_options('twin', 'train', ['-opt', str(write_options(tmp_path, 'gan', gan_checkpoint,
                                                                               'whole'))],
                                   root_path=str(tmp_path), preflight=False)
    model = ReferenceTwinModel(opt)
    expected = gan_psnr_on_pair(gan_checkpoint, tmp_path)
    gan_detail = gan_detail_on_pair(gan_checkpoint, tmp_path)
    assert model.gan_psnr == {'pairs': {'psnr': pytest.approx(expected, abs=1e-9),
                                        'detail': pytest.approx(gan_detail, rel=1e-9),
                                        'images': [str(tmp_path / 'val_lr' / 'v.png')]}}
    model.feed_data(next(iter(torch.utils.data.DataLoader(build_dataset(opt['datasets']['train']),
                                                          batch_size=2))))
    for step in range(1, 4):
        model.optimize_parameters(step)
    scalars = {}

    class Board:
        def add_scalar(self, tag, value, step):
            scalars[tag] = (value, step)
    model.nondist_validation(torch.utils.data.DataLoader(build_dataset(opt['datasets']['val'])), 3, Board(), False)
    result = model.validation_results['pairs']
    assert result['psnr_gan'] == pytest.approx(expected, abs=1e-9)  # the GAN's, not the trained weights'
    assert abs(result['psnr'] - expected) > 0.01 and result['no_gain_over_gan'] == (result['psnr'] <= expected)
    assert scalars == {'metrics/pairs/psnr': (result['psnr'], 3), 'metrics/pairs/psnr_gan': (result['psnr_gan'], 3),
                       'metrics/pairs/psnr_bicubic': (result['psnr_bicubic'], 3)}
    assert gan_detail == 0 and result['detail_vs_gan'] is None  # this random GAN's output is flat: no ratio
    model.gan_psnr['pairs']['detail'] = 2.5  # a GAN with detail: the ratio of the twin's output's detail to it
    model.nondist_validation(torch.utils.data.DataLoader(build_dataset(opt['datasets']['val'])), 3, Board(), False)
    result = model.validation_results['pairs']
    twin_out = twin_output_on_pair(model.net_g_ema, tmp_path)
    assert result['detail_vs_gan'] == pytest.approx(laplacian_detail(twin_out) / 2.5, rel=1e-9)
    assert scalars['metrics/pairs/detail_vs_gan'] == (result['detail_vs_gan'], 3)
    # images the GAN was not measured on (a resumed run whose validation set changed): unknown, not a stale figure
    write_random_images(str(tmp_path / 'val_hr'), ('w',), shape=(64, 64, 3))
    write_random_images(str(tmp_path / 'val_lr'), ('w',), shape=(16, 16, 3))
    scalars.clear()
    model.nondist_validation(torch.utils.data.DataLoader(build_dataset(opt['datasets']['val'])), 4, Board(), False)
    result = model.validation_results['pairs']
    assert result['images'] == 2 and result['psnr_gan'] is None and result['no_gain_over_gan'] is None
    assert sorted(scalars) == ['metrics/pairs/psnr', 'metrics/pairs/psnr_bicubic'] and result['detail_vs_gan'] is None


def test_a_twin_that_has_not_moved_is_no_closer_to_the_hr_than_the_gan(tmp_path, gan_checkpoint):
    make_photos(tmp_path)
    option_file = write_options(tmp_path, 'still', gan_checkpoint,
                                **{'train:optim_g': {'type': 'Adam', 'lr': 0, 'betas': [0.9, 0.99]}})
    assert run(tmp_path, option_file) == 0
    summary = json.loads((tmp_path / 'experiments' / 'still' / 'reference_twin.json').read_text())
    record = summary['validation']['pairs']
    gan_db, bicubic_db = record['psnr_gan'], record['psnr_bicubic']
    assert gan_db == pytest.approx(gan_psnr_on_pair(gan_checkpoint, tmp_path)) and record['psnr'] == gan_db
    assert record['no_gain_over_gan'] is True and summary['no_gain_over_gan'] is True
    warnings = [line for line in log_of(tmp_path, 'still').splitlines() if 'WARNING' in line]
    assert sum(f'the twin is no closer to the HR than the GAN itself: {gan_db:.2f} <= {gan_db:.2f} dB on pairs; it '
               'has not moved towards a PSNR-oriented model: do not use it as network_mse' in line
               for line in warnings) == 2  # the validations at iterations 2 and 4
    assert any(line.endswith(f'  pairs: the twin is no closer to the HR than the GAN itself ({gan_db:.2f} <= '
                             f'{gan_db:.2f} dB): do not use it as a reference') for line in warnings)
    assert (f'  pairs: PSNR twin {gan_db:.2f} dB, GAN {gan_db:.2f} dB, bicubic {bicubic_db:.2f} dB: +0.00 dB over '
            f'the GAN, {gan_db - bicubic_db:+.2f} dB against bicubic (WORSE than bicubic)') in log_of(tmp_path, 'still')


def test_unreadable_or_too_small_hr_images_are_skipped_and_named(tmp_path):
    write_random_images(str(tmp_path / 'hr'), ('a', 'b'), shape=(40, 36, 3))
    write_random_images(str(tmp_path / 'hr'), ('small',), shape=(40, 20, 3))  # 20 px wide: below gt_size 32
    (tmp_path / 'hr' / 'c.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    opt = {'name': 'hr', 'phase': 'train', 'dataroot_gt': str(tmp_path / 'hr'), 'io_backend': {'type': 'disk'},
           'gt_size': 32, 'crop_pad_size': 40}
    dataset = ReferenceTwinDataset(opt)
    assert dataset.paths == [str(tmp_path / 'hr' / name) for name in ('a.png', 'b.png')] and len(dataset) == 2
    corrupt, small = dataset.skipped
    assert corrupt.startswith(f'{tmp_path / "hr" / "c.png"}: truncated image file (it ends before its image data')
    assert small == f'{tmp_path / "hr" / "small.png"}: 20x40 px is smaller than the crop datasets:train:gt_size 32'
    assert check_hr_folder(opt) == [f'HR image skipped (the twin trains on the other 2 of 4): {line}'
                                    for line in dataset.skipped]
    assert dataset[1]['gt'].shape == (3, 40, 40) and dataset[1]['gt_path'] == dataset.paths[1]


def test_unreadable_or_mismatched_validation_pairs_are_skipped_and_named(tmp_path):
    hr, lr = tmp_path / 'hr', tmp_path / 'lr'
    write_random_images(str(hr), ('a', 'b', 'c'), shape=(64, 64, 3))
    write_random_images(str(hr), ('d',), shape=(67, 64, 3))  # 3 px left over a side: cropped
    write_random_images(str(hr), ('e',), shape=(60, 64, 3))  # 4 px short: mismatched
    write_random_images(str(lr), ('a', 'd', 'e'), shape=(16, 16, 3))
    write_random_images(str(lr), ('c',), shape=(8, 8, 3))  # an x8 LR: mismatched
    (lr / 'b.png').write_bytes(b'not an image')
    opt = {'name': 'pairs', 'phase': 'val', 'scale': 4, 'dataroot_gt': str(hr), 'dataroot_lq': str(lr),
           'io_backend': {'type': 'disk'}}
    dataset = ReferenceTwinDataset(opt)
    assert dataset.lq_paths == [str(lr / 'a.png'), str(lr / 'd.png')] and len(dataset) == 2
    assert dataset.skipped == [
        f'{lr / "b.png"}: not a readable image (OpenCV could not decode it)',
        f'{hr / "c.png"}: 64x64 HR is not scale 4 x its LR image {lr / "c.png"} (8x8: 32x32 expected, up to 3 px '
        'more a side)',
        f'{hr / "e.png"}: 64x60 HR is not scale 4 x its LR image {lr / "e.png"} (16x16: 64x64 expected, up to 3 px '
        'more a side)']
    assert dataset[1]['gt'].shape == (3, 64, 64) and dataset[1]['lq'].shape == (3, 16, 16)
    assert check_validation_pairs({'datasets': {'train': {'type': 'ReferenceTwinDataset'}, 'val': {
        **opt, 'type': 'ReferenceTwinDataset'}}}) == [
        f'validation pair of pairs skipped (the twin is validated on the other 2 of 5): {line}'
        for line in dataset.skipped]


def test_validation_pairs_none_of_which_reads_are_refused_in_one_line_before_any_folder(tmp_path, gan_checkpoint):
    make_photos(tmp_path)
    (tmp_path / 'val_lr' / 'v.png').write_bytes(b'not an image')
    with pytest.raises(ValueError) as error:
        run(tmp_path, write_options(tmp_path, 'refused', gan_checkpoint))
    lr, hr = tmp_path / 'val_lr', tmp_path / 'val_hr'
    assert str(error.value) == (f'datasets:val pairs: {lr} / {hr}: no usable LR / HR pair: none of its 1 pair(s) '
                                f'reads with an HR of scale 4 x its LR ({lr / "v.png"}: not a readable image (OpenCV '
                                'could not decode it)); replace them')
    assert not (tmp_path / 'experiments').exists()


def test_an_hr_folder_of_unreadable_images_is_refused_in_one_line_before_any_folder(tmp_path, gan_checkpoint):
    make_photos(tmp_path)
    for name in ('x.png', 'y.jpg'):
        (tmp_path / 'broken' / name).parent.mkdir(exist_ok=True)
        (tmp_path / 'broken' / name).write_bytes(b'')
    option_file = write_options(tmp_path, 'refused', gan_checkpoint, **{'datasets:train:dataroot_gt':
                                                                        str(tmp_path / 'broken')})
    with pytest.raises(ValueError) as error:
        run(tmp_path, option_file)
    assert str(error.value).startswith(f'datasets:train:dataroot_gt: {tmp_path / "broken"}: no usable image: none '
                                       f'of its 2 image(s) reads and is at least gt_size 32 px a side '
                                       f'({tmp_path / "broken" / "x.png"}: ')
    assert 'and 1 more' in str(error.value) and '\n' not in str(error.value)
    assert not (tmp_path / 'experiments').exists()


def test_replayed_features_give_the_networks_output_and_gradients():
    net = RRDBNet(3, 3, scale=4, num_feat=8, num_block=3, num_grow_ch=4)
    trained = select_trained_params(net, [r'body\.2\.', 'conv_body', 'conv_up', 'conv_hr', 'conv_last'])
    assert trained[0] == 'body.2.rdb1.conv1.weight' and not net.conv_first.weight.requires_grad
    frozen = FrozenFeatures(net)
    lq = torch.rand(2, 3, 12, 10)
    # the long skip reads conv_first's output and block 2 reads block 1's; block 0 only feeds block 1
    assert frozen.probe(lq[:1]) == ['conv_first', 'body.1'] and frozen.skipped == ['body.0']
    features = frozen.compute(lq)
    assert {name: tuple(value.shape) for name, value in features.items()} == {'conv_first': (2, 8, 12, 10),
                                                                              'body.1': (2, 8, 12, 10)}
    net(lq).square().mean().backward()
    expected = {name: p.grad.clone() for name, p in net.named_parameters() if p.requires_grad}
    net.zero_grad()
    with frozen.replaying(features):
        output = net(lq)
    output.square().mean().backward()
    assert torch.equal(output, net(lq))
    assert all(torch.allclose(p.grad, expected[name], atol=1e-7) for name, p in net.named_parameters()
               if p.requires_grad)
    assert not any('forward' in vars(module) for module in net.modules())  # the modules compute again


def test_tail_mode_refuses_a_frozen_part_that_does_not_crop_with_the_input():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.Conv2d(4, 3 * 64, 1),
                              torch.nn.PixelShuffle(8))
    select_trained_params(net, [r'1\.'])
    with pytest.raises(ValueError, match=r"frozen module 0 of network_g gives a \(1, 4, 8, 8\) output for a "
                                         r"\(1, 3, 16, 16\) input"):
        FrozenFeatures(net).probe(torch.zeros(1, 3, 16, 16))


def test_the_default_tail_is_the_last_tenth_of_the_parameters():
    net = RRDBNet(3, 3, scale=4, num_feat=8, num_block=3, num_grow_ch=4)
    trained = select_trained_params(net)
    sizes = {name: p.numel() for name, p in net.named_parameters()}
    share = sum(sizes[name] for name in trained) / sum(sizes.values())
    assert trained[-1] == 'conv_last.bias' and 0.1 <= share < 0.1 + max(sizes.values()) / sum(sizes.values())
    with pytest.raises(ValueError, match="'nothing' matches no parameter of network_g"):
        select_trained_params(net, ['nothing'])


def test_a_pixel_loss_step_lowers_the_l1_loss_in_both_modes(tmp_path, gan_checkpoint):
    make_photos(tmp_path)
    from desra.config.options import parse_command_options
    for mode in ('whole', 'tail'):
        option_file = write_options(tmp_path, mode, gan_checkpoint, mode)
        opt, _ = parse_command_options('twin', 'train', ['-opt', str(option_file)], root_path=str(tmp_path),
                                       preflight=False)
        model = ReferenceTwinModel(opt)
        model.feed_data(next(iter(torch.utils.data.DataLoader(build_dataset(opt['datasets']['train']),
                                                              batch_size=2))))
        losses = []
        for step in range(1, 6):
            model.optimize_parameters(step)
            losses.append(model.get_current_log()['l_pix'])
        assert losses[-1] < losses[0] * 0.9, (mode, losses)


@pytest.mark.parametrize('change, message', [
    ({'scale': 2}, 'network_g is a x4 ESRGAN model but the option "scale" is 2'),
    ({'datasets:train:gt_size': 128, 'datasets:train:crop_pad_size': 128},
     r'0.png: 80x96 px is smaller than the crop datasets:train:gt_size 128'),
    ({'datasets:train:dataroot_gt': 'EMPTY'}, 'no usable image'),
    ({'train:gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla'}}, 'a reference twin trains with a pixel loss only'),
    ({'network_g': TINY_RRDB_OPT, 'path:pretrain_network_g': None},
     'path:pretrain_network_g: a reference twin starts from the weights of the GAN checkpoint it is a twin of'),
])
def test_bad_input_is_refused_in_one_line_before_any_folder(tmp_path, gan_checkpoint, change, message):
    make_photos(tmp_path)
    (tmp_path / 'empty').mkdir()
    change = {key: str(tmp_path / 'empty') if value == 'EMPTY' else value for key, value in change.items()}
    with pytest.raises(ValueError, match=message) as error:
        run(tmp_path, write_options(tmp_path, 'refused', gan_checkpoint, **change))
    assert '\n' not in str(error.value) and not (tmp_path / 'experiments').exists()


def test_an_architecture_that_does_not_train_is_refused(tmp_path, gan_checkpoint, monkeypatch):
    make_photos(tmp_path)
    spandrel_class = type(detect_network(str(gan_checkpoint)))  # an architecture that runs for inference only:
    forward = spandrel_class.forward
    monkeypatch.setattr(spandrel_class, 'forward', lambda self, x: torch.no_grad()(forward)(self, x))
    with pytest.raises(ValueError, match=r'network_g ESRGAN \(.*gan.pth\) cannot be trained: its output does not '
                                         r'depend on its parameters'):
        run(tmp_path, write_options(tmp_path, 'frozen', gan_checkpoint))
    assert not (tmp_path / 'experiments').exists()


@pytest.mark.parametrize('mode', ['tail', 'whole'])
def test_an_interrupted_run_resumes_to_the_same_twin(tmp_path, gan_checkpoint, monkeypatch, mode):
    make_photos(tmp_path)
    assert run(tmp_path, write_options(tmp_path, 'unbroken', gan_checkpoint, mode)) == 0
    optimize = ReferenceTwinModel.optimize_parameters

    def interrupted(self, current_iter):
        if current_iter == 3:
            raise KeyboardInterrupt
        optimize(self, current_iter)
    monkeypatch.setattr(ReferenceTwinModel, 'optimize_parameters', interrupted)
    option_file = write_options(tmp_path, 'broken', gan_checkpoint, mode)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, option_file)
    monkeypatch.setattr(ReferenceTwinModel, 'optimize_parameters', optimize)
    assert run(tmp_path, option_file, '--auto_resume') == 0
    models = tmp_path / 'experiments'
    unbroken = torch.load(models / 'unbroken' / 'models' / 'net_g_latest.pth', weights_only=True)
    resumed = torch.load(models / 'broken' / 'models' / 'net_g_latest.pth', weights_only=True)
    for key in ('params', 'params_ema'):
        assert all(torch.equal(value, resumed[key][name]) for name, value in unbroken[key].items())
    assert resumed['reference'] == unbroken['reference'] == {'kind': 'twin', 'twin_of': str(gan_checkpoint),
                                                             'twin_mode': mode}
    summaries = [json.loads((models / name / 'reference_twin.json').read_text()) for name in ('unbroken', 'broken')]
    gan_db = gan_psnr_on_pair(gan_checkpoint, tmp_path)  # the original GAN's, not the resumed weights'
    assert [summary['validation']['pairs']['psnr_gan'] for summary in summaries] == [pytest.approx(gan_db)] * 2
    assert summaries[1]['twin_of'] == str(gan_checkpoint)


@pytest.mark.parametrize('reference, kind', [('auto', 'twin'), ('generic', 'generic')])
def test_detection_says_which_reference_it_used(tmp_path, reference, kind):
    write_random_images(str(tmp_path / 'lr'), ('a',))
    checkpoints = save_tiny_checkpoints(str(tmp_path), ('mse', 'gan'), param_key='params_ema')
    twin = torch.load(checkpoints['mse'], weights_only=True)
    torch.save({**twin, 'reference': {'kind': 'twin', 'twin_of': checkpoints['gan'], 'twin_mode': 'tail'}},
               checkpoints['mse'])
    opt = {'name': 'run', 'num_gpu': 0, 'scale': 4, 'reference': reference,
           'datasets': {'detect': {'dataroot_lq': str(tmp_path / 'lr')}},
           'network_mse': TINY_RRDB_OPT, 'network_gan': TINY_RRDB_OPT,
           'path': {'results_root': str(tmp_path / 'results'), 'pretrain_network_mse': checkpoints['mse'],
                    'pretrain_network_gan': checkpoints['gan']},
           'detector': {'threshold': 0.99, 'min_area': 10, 'segmenter': {'type': 'none'}}}
    (tmp_path / 'detect.yml').write_text(yaml.safe_dump(opt))
    result = run_command(['desra/detect.py', '-opt', str(tmp_path / 'detect.yml')])
    assert result.returncode == 0, result.stderr
    run_root = tmp_path / 'results' / 'run'
    log = ''.join(path.read_text() for path in run_root.glob('*.log'))
    expected = {'twin': f'twin: a reference twin derived from the GAN itself by pixel-loss training '
                        f'({checkpoints["mse"]}, twin of {checkpoints["gan"]})',
                'generic': f'generic: a PSNR-oriented model of another family (re-calibrate the threshold and class '
                           f'weights for it) ({checkpoints["mse"]})'}[kind]
    assert f'reference (the MSE model compared with): {expected}' in log
    assert html.escape(expected) in (run_root / 'index.html').read_text()
    assert reference_of({'path': {'pretrain_network_mse': checkpoints['gan']}}) == (
        'parent', f'parent: the MSE model the GAN was fine-tuned from ({checkpoints["gan"]})')


def demo_no_parent_script():
    """scripts/run_demo_no_parent.py as a module."""
    spec = importlib.util.spec_from_file_location('run_demo_no_parent',
                                                  os.path.join(REPO_ROOT, 'scripts', 'run_demo_no_parent.py'))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_no_parent_demo_prints_the_twins_psnr_beside_the_gans_and_bicubics():
    line = demo_no_parent_script().twin_psnr_line
    record = {'psnr': 25.43, 'psnr_gan': 23.95, 'psnr_bicubic': 26.91, 'worse_than_bicubic': True,
              'no_gain_over_gan': False}
    assert line('demo_heldout', record) == ('twin PSNR on demo_heldout: 25.43 dB, GAN 23.95 dB, bicubic 26.91 dB '
                                            '(+1.48 dB over the GAN; WORSE than bicubic)')
    record.update(psnr=23.95, no_gain_over_gan=True)
    assert line('v', record) == ('twin PSNR on v: 23.95 dB, GAN 23.95 dB, bicubic 26.91 dB (+0.00 dB over the GAN; '
                                 'WORSE than bicubic; NO closer to the HR than the GAN)')
    record.update(psnr=27.0, psnr_gan=None, worse_than_bicubic=False, no_gain_over_gan=None)
    assert line('v', record) == 'twin PSNR on v: 27.00 dB, GAN n/a, bicubic 26.91 dB (GAN PSNR unknown)'
