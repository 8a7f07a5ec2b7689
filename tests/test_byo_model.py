"""Bring your own SR model: checkpoints of five architectures (random tiny weights, written here) detected by
spandrel (``type: auto``), run tiled and untiled, through detect and infer, fine-tuned and saved under their original
names; safetensors in and out; ``import_modules``; Real-ESRGAN's inference flags."""
import json
import os
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from spandrel import ModelLoader

import desra  # noqa: F401  (registrations)
from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from basicsr.archs.swinir_arch import SwinIR
from basicsr.utils.registry import ARCH_REGISTRY
from desra import detect, infer
from desra.archs.auto_arch import detect_network
from desra.inference import TiledUpsampler, build_upsampler
from desra.io.images import read_image, write_image
from desra.registry import import_user_modules
from desra.weights.checkpoint import load_state_dict, save_network_file
from spandrel.architectures.OmniSR import OmniSR
from spandrel.architectures.PLKSR import PLKSR
from spandrel.architectures.SPAN import SPAN
from tests.conftest import TINY_RRDB_OPT, write_random_images
from tests.test_desra_model import build, model_options
from tests.test_train_resume import run_train, write_options


def tiny_swinir():
    return SwinIR(upscale=2, in_chans=3, img_size=16, window_size=4, img_range=1., depths=[2], embed_dim=12,
                  num_heads=[2], mlp_ratio=2, upsampler='pixelshuffle')


#: name -> (tiny network factory, spandrel's id, scale, file layout, tile, tile_pad covering the receptive field).
ARCHS = {
    'esrgan': (lambda: RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=32), 'ESRGAN', 4, 'both.pth',
               16, 10),
    'compact': (lambda: SRVGGNetCompact(3, 3, num_feat=8, num_conv=2, upscale=4), 'Compact', 4, 'bare.pth', 16, 4),
    'swinir': (tiny_swinir, 'SwinIR', 2, 'params.pth', 8, 8),
    'span': (lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=4), 'SPAN', 4, 'safetensors', 16,
             12),
    'plksr': (lambda: PLKSR(dim=8, n_blocks=2, upscaling_factor=4, kernel_size=7), 'PLKSR', 4, 'ema.pth', 16, 10),
}
#: The architectures fine-tuned here, with basicsr's class (the original ecosystem) for the round trip.
BASICSR_TWINS = {'esrgan': RRDBNet, 'compact': SRVGGNetCompact, 'swinir': SwinIR}


def calibrate(net):
    """Rescale the last convolution of ``net`` so that its output on a photo has mean 0.5 and std 0.1: random
    weights otherwise give outputs clipped to 0 or 1, where tiled and untiled runs agree trivially."""
    last = [module for module in net.modules() if isinstance(module, torch.nn.Conv2d)][-1]
    x = torch.from_numpy(photo(12, 12).transpose(2, 0, 1)).unsqueeze(0)
    with torch.no_grad():
        output = net(x)
        weight, bias = last.weight.clone(), last.bias.clone()
        last.weight.zero_()
        last.bias.zero_()
        base = net(x)  # what does not pass through the last convolution (Compact's upsampled input, a mean)
        last.bias.fill_(1.0)
        gain = (net(x) - base).mean()
        factor = 0.1 / (output - base).std()
        last.weight.copy_(weight * factor)
        last.bias.copy_(bias * factor)
        last.bias.add_((0.5 - net(x).mean()) / gain)


def write_checkpoint(folder, arch, seed=0):
    """A random-weight checkpoint of ``arch`` in its file layout; returns (path, the network it holds, in eval)."""
    factory, _, _, layout, _, _ = ARCHS[arch]
    torch.manual_seed(seed)
    net = factory().eval()
    calibrate(net)
    state = net.state_dict()
    stem = folder / f'{arch}_{seed}'
    if layout == 'safetensors':
        path = save_network_file({'params': state}, str(stem), 'safetensors')
    else:
        key = {'both.pth': 'params_ema', 'params.pth': 'params', 'ema.pth': 'params_ema', 'bare.pth': None}[layout]
        path = f'{stem}.pth'
        torch.save(state if key is None else {key: state, **({'params': state} if layout == 'both.pth' else {})}, path)
    return path, net


def photo(height, width):
    """A real photo crop (scikit-image's astronaut), float32 RGB [0, 1]."""
    from skimage import data
    return (data.astronaut()[120:120 + height, 180:180 + width] / 255.0).astype(np.float32)


def run_net(net, rgb):
    with torch.no_grad():
        return net(torch.from_numpy(rgb.transpose(2, 0, 1)).unsqueeze(0))[0].clamp(0, 1).permute(1, 2, 0).numpy()


@pytest.mark.parametrize('arch', ARCHS)
def test_detected_and_super_resolves_tiled_and_untiled(tmp_path, arch):
    _, arch_id, scale, _, tile, tile_pad = ARCHS[arch]
    path, original = write_checkpoint(tmp_path, arch)
    opt = {'network_g': {'type': 'auto'}, 'path': {'pretrain_network_g': path}}
    whole = build_upsampler(opt, 'g', 'cpu')
    detected = whole.net.detected_arch
    assert (detected.name, detected.scale, whole.scale) == (arch_id, scale, scale)
    rgb = photo(24, 28)
    untiled = whole.upscale_rgb(rgb)
    assert untiled.shape == (24 * scale, 28 * scale, 3)
    np.testing.assert_allclose(untiled, run_net(original, rgb), atol=1e-5)  # the checkpoint's weights, all of them
    tiled = build_upsampler(opt, 'g', 'cpu', tile_opt={'tile_size': tile, 'tile_pad': tile_pad}).upscale_rgb(rgb)
    assert np.abs(tiled - untiled).max() <= 1 / 255


def test_size_requirements_come_from_the_model(tmp_path):
    swinir = detect_network(write_checkpoint(tmp_path, 'swinir')[0])
    upsampler = TiledUpsampler(swinir, 2, tile=8, tile_pad=0)
    assert (upsampler.multiple, upsampler.minimum) == (4, 16)  # whole windows; spandrel's minimum for SwinIR
    seen = []
    swinir.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape[-2:])))
    assert upsampler.upscale_rgb(photo(10, 21)).shape == (20, 42, 3)
    assert all(h >= 16 and w >= 16 and h % 4 == 0 and w % 4 == 0 for h, w in seen) and len(seen) == 6
    path = tmp_path / 'x2.pth'
    torch.save(RRDBNet(3, 3, scale=2, num_feat=8, num_block=1, num_grow_ch=32).state_dict(), path)
    esrgan_x2 = TiledUpsampler(detect_network(path), 2)
    assert esrgan_x2.multiple == 4  # spandrel's requirement for pixel-unshuffling ESRGAN models
    assert esrgan_x2.upscale_rgb(photo(13, 15)).shape == (26, 30, 3)


def test_auto_errors_name_the_checkpoint(tmp_path):
    path, _ = write_checkpoint(tmp_path, 'compact')
    opt = {'network_g': {'type': 'auto'}, 'path': {'pretrain_network_g': path}, 'scale': 2}
    with pytest.raises(ValueError, match=f'{path}: network_g is a x4 Compact model but the option "scale" is 2'):
        build_upsampler(opt, 'g', 'cpu')
    opt.update(scale=4, network_g={'type': 'auto', 'num_feat': 64})
    with pytest.raises(ValueError, match='reads the architecture from its checkpoint: remove num_feat'):
        build_upsampler(opt, 'g', 'cpu')
    torch.save({'encoder.weight': torch.zeros(3, 3)}, tmp_path / 'unknown.pth')
    with pytest.raises(ValueError, match='unknown.pth: spandrel does not recognise the architecture'):
        build_upsampler({'network_g': {'type': 'auto'}, 'path': {'pretrain_network_g': str(tmp_path / 'unknown.pth')}},
                        'g', 'cpu')
    # recognised as ESRGAN, but spandrel assumes 32 growth channels: a one-line error, not spandrel's traceback
    torch.save(RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=16).state_dict(), tmp_path / 'g16.pth')
    with pytest.raises(ValueError, match=r'g16.pth: spandrel recognised the architecture but could not build it '
                                         r'from these weights \(Error\(s\) in loading state_dict for RRDBNet: size '
                                         r'mismatch for .*\); describe it with a basicsr network mapping'):
        detect_network(str(tmp_path / 'g16.pth'))


def test_basicsr_mappings_still_load_safetensors(tmp_path):
    net = RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    path = save_network_file({'params_ema': net.state_dict()}, str(tmp_path / 'rrdb'), 'safetensors')
    assert path.endswith('rrdb.safetensors')
    state, key = load_state_dict(path, param_key='params_ema')  # a safetensors file is one state dict
    assert key is None and all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    opt = {'network_g': {'type': 'RRDBNet', 'num_feat': 8, 'num_block': 1, 'num_grow_ch': 4, 'scale': 4,
                         'num_in_ch': 3, 'num_out_ch': 3}, 'path': {'pretrain_network_g': path}}
    rgb = photo(12, 16)
    np.testing.assert_allclose(build_upsampler(opt, 'g', 'cpu').upscale_rgb(rgb), run_net(net.eval(), rgb),
                               atol=1e-6)


@pytest.mark.parametrize('arch', ARCHS)
def test_detect_and_infer_end_to_end(tmp_path, arch):
    """Stage 1 in LR mode (an MSE / GAN pair of the architecture, segmenter none) and the inference command."""
    scale = ARCHS[arch][2]
    write_random_images(str(tmp_path / 'lr'), ('sub/b',), shape=(16, 20, 3))
    (mse, _), (gan, _) = write_checkpoint(tmp_path, arch, 0), write_checkpoint(tmp_path, arch, 1)
    detect_opt = {'name': 'run', 'num_gpu': 0, 'manual_seed': 0, 'scale': scale,
                  'datasets': {'detect': {'dataroot_lq': str(tmp_path / 'lr')}},
                  'network_mse': {'type': 'auto'}, 'network_gan': {'type': 'auto'},
                  'path': {'pretrain_network_mse': mse, 'pretrain_network_gan': gan,
                           'results_root': str(tmp_path / 'results')},
                  'tile': {'tile_size': 0}, 'detector': {'min_area': 0, 'segmenter': {'type': 'none'}}}
    (tmp_path / 'detect.yml').write_text(yaml.safe_dump(detect_opt))
    assert detect.main(['-opt', str(tmp_path / 'detect.yml')]) == 0
    run_root = tmp_path / 'results' / 'run'
    for role in ('sr_mse', 'sr_gan', 'masks'):
        assert read_image(str(run_root / role / 'sub' / 'b.png')).shape[:2] == (16 * scale, 20 * scale)
    assert (run_root / 'summary.csv').read_text().count('\n') == 2  # header and the image

    assert infer.main(['-i', str(tmp_path / 'lr'), '-o', str(tmp_path / 'out'), '--model_path', gan]) == 0
    expected = read_image(str(run_root / 'sr_gan' / 'sub' / 'b.png'))
    np.testing.assert_array_equal(read_image(str(tmp_path / 'out' / 'sub' / 'b_out.png')), expected)


def test_infer_outputs_pair_with_their_inputs_in_detects_folders_mode(tmp_path):
    """infer names its outputs ``<stem>_out`` (Real-ESRGAN's default suffix) and records which input made each one;
    detect's SR-on-disk mode names them after their inputs, so they pair with each other and with the LR image."""
    write_random_images(str(tmp_path / 'lr'), ('a', 'sub/b'), shape=(16, 20, 3))
    for seed, role in enumerate(('mse', 'gan')):
        model_path, _ = write_checkpoint(tmp_path, 'compact', seed)
        assert infer.main(['-i', str(tmp_path / 'lr'), '-o', str(tmp_path / role), '--model_path', model_path]) == 0
    assert (tmp_path / 'gan' / 'sub' / 'b_out.png').is_file()
    detect_opt = {'name': 'run', 'num_gpu': 0, 'detector': {'min_area': 0, 'segmenter': {'type': 'none'}},
                  'datasets': {'detect': {role: str(tmp_path / folder) for role, folder in (
                      ('dataroot_mse', 'mse'), ('dataroot_gan', 'gan'), ('dataroot_lq', 'lr'))}},
                  'path': {'results_root': str(tmp_path / 'results')}}
    (tmp_path / 'detect.yml').write_text(yaml.safe_dump(detect_opt))
    assert detect.main(['-opt', str(tmp_path / 'detect.yml')]) == 0
    records = {name: json.loads((tmp_path / 'results' / 'run' / 'records' / f'{name}.json').read_text())
               for name in ('a', 'sub/b')}
    inputs = records['sub/b']['inputs']
    assert inputs == {'mse': str(tmp_path / 'mse' / 'sub' / 'b_out.png'),
                      'gan': str(tmp_path / 'gan' / 'sub' / 'b_out.png'), 'lq': str(tmp_path / 'lr' / 'sub' / 'b.png')}


@pytest.mark.parametrize('arch', BASICSR_TWINS)
def test_fine_tuned_checkpoint_loads_in_spandrel_and_basicsr(tmp_path, arch):
    factory, _, scale, _, _, _ = ARCHS[arch]
    path, original = write_checkpoint(tmp_path, arch)
    opt = model_options(tmp_path)
    opt.update(scale=scale, network_g={'type': 'auto'})
    opt['path'].update(pretrain_network_g=path, param_key_g='params_ema')
    opt['train']['ema_decay'] = 0.5  # so that a few steps move the EMA weights visibly
    model = build(opt)
    generator = torch.Generator().manual_seed(0)
    for current_iter in range(1, 3):
        lq = torch.rand(2, 3, 16, 16, generator=generator)
        mask = (torch.rand(2, 1, 16 * scale, 16 * scale, generator=generator) > 0.5).float()
        model.feed_data({'lq': lq, 'gt': torch.rand(2, 3, 16 * scale, 16 * scale, generator=generator),
                         'mask': mask})
        model.optimize_parameters(current_iter)
    model.save(epoch=0, current_iter=2)
    written = torch.load(tmp_path / 'models' / 'net_g_2.pth', weights_only=True)
    assert set(written) == {'params', 'params_ema'}
    assert list(written['params_ema']) == list(original.state_dict())  # the original's names, in its order

    rgb = photo(16, 20)
    expected = run_net(model.net_g_ema.eval(), rgb)
    assert np.abs(expected - run_net(original, rgb)).max() > 1e-3  # the fine-tuning changed the model
    reloaded = ModelLoader().load_from_file(str(tmp_path / 'models' / 'net_g_2.pth')).model.eval()
    np.testing.assert_allclose(run_net(reloaded, rgb), expected, atol=1e-6)
    twin = factory().eval()
    twin.load_state_dict(written['params_ema'], strict=True)
    np.testing.assert_allclose(run_net(twin, rgb), expected, atol=1e-5)
    twin.load_state_dict(written['params'], strict=True)


def test_training_saves_safetensors_and_resumes_a_detected_generator(tmp_path, tiny_dataset):
    path, _ = write_checkpoint(tmp_path, 'compact')
    option_file = write_options(tmp_path, tiny_dataset, 'byo', {'type': 'auto'}, total_iter=3)
    opt = yaml.safe_load(option_file.read_text())
    opt['path'].update(pretrain_network_g=path)  # a bare state dict, with no param_key_g (as the README has it)
    opt['path'].pop('param_key_g', None)
    opt['logger']['save_checkpoint_format'] = 'safetensors'
    option_file.write_text(yaml.safe_dump(opt))
    assert run_train(tmp_path, option_file) == 0
    models = tmp_path / 'experiments' / 'byo' / 'models'
    assert sorted(p.name for p in models.iterdir()) == ['net_d_3.safetensors', 'net_d_latest.safetensors',
                                                        'net_g_3.safetensors', 'net_g_latest.safetensors']
    opt['train']['total_iter'] = 4  # continue: the architecture comes from pretrain_network_g, the weights from
    option_file.write_text(yaml.safe_dump(opt))  # the state
    assert run_train(tmp_path, option_file, '--auto_resume') == 0
    latest = str(models / 'net_g_latest.safetensors')
    descriptor = ModelLoader().load_from_file(latest)
    assert (descriptor.architecture.id, descriptor.scale) == ('Compact', 4)
    twin = SRVGGNetCompact(3, 3, num_feat=8, num_conv=2, upscale=4)
    twin.load_state_dict(load_state_dict(latest)[0], strict=True)
    with pytest.raises(ValueError, match='save_checkpoint_format must be one of pth, safetensors'):
        opt = model_options(tmp_path)
        opt['logger'] = {'save_checkpoint_format': 'ckpt'}
        build(opt)


def test_import_modules_registers_the_users_arch(tmp_path, monkeypatch):
    package = tmp_path / 'byo_pkg'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'tiny_user_arch.py').write_text(
        'from basicsr.archs.srvgg_arch import SRVGGNetCompact\n'
        'from basicsr.utils.registry import ARCH_REGISTRY\n\n\n'
        '@ARCH_REGISTRY.register()\n'
        'class TinyUserNet(SRVGGNetCompact):\n'
        '    pass\n')
    (package / 'broken_arch.py').write_text('raise RuntimeError("needs a GPU driver")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert 'TinyUserNet' not in ARCH_REGISTRY
    import_user_modules({'import_modules': ['byo_pkg.tiny_user_arch']})
    assert 'TinyUserNet' in ARCH_REGISTRY
    for name, message in (('byo_pkg/tiny_user_arch.py', "'byo_pkg/tiny_user_arch.py' is not a dotted module name"),
                          ('__import__("os")', 'is not a dotted module name'),
                          ('byo_pkg.absent', 'cannot import byo_pkg.absent: ModuleNotFoundError: .* PYTHONPATH'),
                          ('byo_pkg.broken_arch', 'cannot import byo_pkg.broken_arch: RuntimeError: needs a GPU')):
        with pytest.raises(ValueError, match=message):
            import_user_modules({'import_modules': [name]})
    sys.modules.pop('byo_pkg.broken_arch', None)


def test_infer_flags_name_resize_and_never_overwrite(tmp_path):
    path, _ = write_checkpoint(tmp_path, 'compact')
    write_random_images(str(tmp_path / 'lr'), ('a',), shape=(10, 14, 3))
    rgba = np.dstack([np.full((10, 14, 3), 90, np.uint8), np.full((10, 14), 200, np.uint8)])
    write_image(str(tmp_path / 'lr' / 'rgba.jpg.png'), rgba)
    single = tmp_path / 'lr' / 'a.png'
    assert infer.main(['-i', str(single), '-o', str(tmp_path / 'x3'), '--model_path', path, '-s', '3.5',
                       '--suffix', 'x3', '--tile', '8', '--fp32']) == 0
    resized = read_image(str(tmp_path / 'x3' / 'a_x3.png'))
    assert resized.shape == (35, 49, 3)
    sr = TiledUpsampler(detect_network(path), 4).upscale_rgb(read_image(str(single))[..., ::-1] / 255.0)
    expected = np.clip(cv2.resize(sr, (49, 35), interpolation=cv2.INTER_LANCZOS4), 0, 1)
    assert np.abs(resized[..., ::-1] / 255.0 - expected).max() <= 1 / 255 + 1e-6  # Lanczos, as Real-ESRGAN

    assert infer.main(['-i', str(tmp_path / 'lr'), '-o', str(tmp_path / 'x4'), '--model_path', path]) == 0
    assert read_image(str(tmp_path / 'x4' / 'rgba.jpg_out.png')).shape == (40, 56, 4)
    with pytest.raises(ValueError, match='its output would overwrite it'):
        infer.main(['-i', str(single), '-o', str(tmp_path / 'lr'), '--model_path', path, '--suffix', ''])
    with pytest.raises(ValueError, match='is inside the input folder'):
        infer.main(['-i', str(tmp_path / 'lr'), '-o', str(tmp_path / 'lr' / 'out'), '--model_path', path])
    with pytest.raises(FileNotFoundError, match=r'absent.pth: no such file \(--model_path: a checkpoint file\)'):
        infer.main(['-i', str(single), '--model_path', str(tmp_path / 'absent.pth')])
    with pytest.raises(FileNotFoundError, match=r'lr: a folder, not a file \(--model_path: a checkpoint file\)'):
        infer.main(['-i', str(single), '--model_path', str(tmp_path / 'lr')])


def test_infer_redoes_outputs_that_other_settings_or_weights_made(tmp_path, capsys):
    """A rerun into the same -o keeps its own finished outputs, but redoes each output that another -s or checkpoint
    made (and says why), judged per output; a file it has no record of making is kept and counted; outputs of another
    --suffix and other files in -o are left alone."""
    path, _ = write_checkpoint(tmp_path, 'compact')
    write_random_images(str(tmp_path / 'lr'), ('a', 'b'), shape=(10, 14, 3))
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    write_image(str(out / 'b_out.png'), np.zeros((3, 3, 3), np.uint8))  # the user's own file, named as an output

    def run(*extra):
        assert infer.main(['-o', str(out), '--model_path', path, *extra]) == 0
        return capsys.readouterr().out.splitlines()[0]
    folder = ['-i', str(tmp_path / 'lr')]
    assert run(*folder) == ('1 written, 0 already done, 0 failed; 1 existing outputs kept that this command has no '
                            'record of making (--overwrite / overwrite: true redoes them)')
    assert read_image(str(out / 'b_out.png')).shape == (3, 3, 3) and (out / 'notes.txt').read_text() == 'mine'
    assert run(*folder, '--overwrite').startswith('2 written, 0 already done')
    assert run(*folder, '--suffix', 'other').startswith('2 written')
    assert run(*folder) == '0 written, 2 already done, 0 failed'
    # one image at a time, as Real-ESRGAN users do: each output is judged by what made it
    assert run('-i', str(tmp_path / 'lr' / 'b.png'), '-s', '2') == (
        '1 written, 0 already done, 0 failed (earlier outputs made otherwise were redone: outscale: null -> 2.0)')
    assert run('-i', str(tmp_path / 'lr' / 'a.png'), '-s', '2').startswith('1 written, 0 already done')
    assert read_image(str(out / 'a_out.png')).shape == (20, 28, 3)
    assert read_image(str(out / 'a_other.png')).shape == (40, 56, 3)
    # other weights under the same file name
    before = read_image(str(out / 'b_out.png'))
    other, _ = write_checkpoint(tmp_path, 'compact', seed=1)
    os.replace(other, path)
    assert run(*folder, '-s', '2').startswith('2 written, 0 already done, 0 failed (earlier outputs made otherwise '
                                              'were redone: weights: ')
    assert not np.array_equal(read_image(str(out / 'b_out.png')), before)
    # a record cut short by a kill is passed over; a JPEG input never takes the PNG of the same stem as its output
    with open(out / '.made_with.jsonl', 'a') as f:
        f.write('{"input": "a.pn')
    cv2.imwrite(str(tmp_path / 'lr' / 'a.jpg'), np.full((10, 14, 3), 128, np.uint8))
    assert run(*folder, '-s', '2') == '1 written, 2 already done, 0 failed'
    assert read_image(str(out / 'a_out.jpg')).shape == (20, 28, 3)
    assert run(*folder, '-s', '2') == '0 written, 3 already done, 0 failed'
    # the record is never written through a link (it could point at any file of the user's)
    target = tmp_path / 'elsewhere.txt'
    target.write_text('keep\n')
    os.remove(out / '.made_with.jsonl')
    os.symlink(target, out / '.made_with.jsonl')
    with pytest.raises(ValueError, match=r'\.made_with\.jsonl: a link or a folder .* it must be a plain file'):
        infer.main(['-o', str(out), '--model_path', path, *folder])
    assert target.read_text() == 'keep\n'


def test_crops_the_architecture_cannot_take_are_refused_before_any_folder(tmp_path, tiny_dataset):
    """OmniSR needs LR inputs of 16 px or more: at gt_size 32 (LR 8x8) it would fail in its first iteration, deep
    inside the network; the dry run on one crop refuses it first, in one line, with the smallest gt_size it takes."""
    torch.manual_seed(0)
    net = OmniSR(num_in_ch=3, num_out_ch=3, num_feat=16, block_num=1, pe=True, window_size=8, res_num=1, up_scale=4)
    torch.save(net.state_dict(), tmp_path / 'omnisr.pth')
    option_file = write_options(tmp_path, tiny_dataset, 'omni', {'type': 'auto'}, total_iter=1)
    opt = yaml.safe_load(option_file.read_text())
    opt['path']['pretrain_network_g'] = str(tmp_path / 'omnisr.pth')
    option_file.write_text(yaml.safe_dump(opt))
    with pytest.raises(ValueError, match=r'network_g OmniSR \(.*omnisr.pth\) cannot train on crops of '
                                         r'datasets:train:gt_size 32 \(LR 8x8\): .*; the smallest crop it takes is '
                                         r'gt_size 64 \(LR inputs of at least 16 px'):
        run_train(tmp_path, option_file)
    assert not (tmp_path / 'experiments').exists()


def test_a_run_that_crashed_before_its_first_checkpoint_does_not_block_a_fresh_start(tmp_path, tiny_dataset):
    option_file = write_options(tmp_path, tiny_dataset, 'crashed', dict(TINY_RRDB_OPT), total_iter=1)
    crashed = tmp_path / 'experiments' / 'crashed'
    for folder in ('models', 'training_states', 'val_original/val'):
        (crashed / folder).mkdir(parents=True)
    (crashed / 'train_crashed_20261203_000000.log').write_text('Traceback ...')
    (crashed / 'val_original' / 'val' / 'a.png').write_bytes(b'stale')
    assert run_train(tmp_path, option_file) == 0
    assert not (crashed / 'val_original').exists()  # made with that run's weights: not reused
    assert (crashed / 'train_crashed_20261203_000000.log').read_text() == 'Traceback ...'
    logs = [path for path in crashed.glob('train_crashed_*.log') if path.name != 'train_crashed_20261203_000000.log']
    assert 'stopped before its first checkpoint: starting afresh' in logs[0].read_text()
    assert (crashed / 'models' / 'net_g_latest.pth').is_file()
