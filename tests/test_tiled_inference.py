"""Tiled SR inference and the inference command: agreement with untiled runs, every input kind, bad input."""
import cv2
import numpy as np
import pytest
import torch

from desra.inference import TiledUpsampler, build_sr_network, size_requirements
from desra.io.images import decode_image, read_image
from tests.conftest import TINY_RRDB_OPT, make_tiny_rrdbnet, run_command


def _photo(height, width):
    """A real photo crop (scikit-image's astronaut), float32 RGB [0, 1]."""
    from skimage import data
    return (data.astronaut()[100:100 + height, 150:150 + width] / 255.0).astype(np.float32)


@pytest.mark.parametrize('scale', [4, 2, 1])
def test_tiled_matches_untiled_within_one_level(scale):
    net = make_tiny_rrdbnet(0) if scale == 4 else build_sr_network(dict(TINY_RRDB_OPT, scale=scale))
    rgb = _photo(101, 139)  # odd sizes, several tiles, padded to the size multiple
    whole = TiledUpsampler(net, scale).upscale_rgb(rgb)
    tiled = TiledUpsampler(net, scale, tile=64, tile_pad=10).upscale_rgb(rgb)
    assert whole.shape == tiled.shape == (101 * scale, 139 * scale, 3)
    assert np.abs(whole - tiled).max() <= 1 / 255


def test_untiled_output_is_the_network_output():
    net = make_tiny_rrdbnet(0)
    rgb = _photo(40, 56)
    with torch.no_grad():
        expected = net(torch.from_numpy(rgb.transpose(2, 0, 1))[None]).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(TiledUpsampler(net, 4).upscale_rgb(rgb), expected, atol=1e-6)


def test_half_is_for_cuda_and_its_fp16_path_agrees_with_fp32():
    """``half`` is ignored on the CPU; its code path (fp16 network and input, float32 result), forced here on the
    CPU since torch runs fp16 convolutions there too, gives what fp32 gives within a few levels."""
    def unclipped_net():  # outputs about 0.5 +- 0.1, so that no difference hides in the clipping to [0, 1]
        net = make_tiny_rrdbnet(0)
        with torch.no_grad():
            net.conv_last.weight.mul_(10)
            net.conv_last.bias.fill_(0.5)
        return net

    rgb = _photo(37, 45)
    fp32 = TiledUpsampler(unclipped_net(), 4, tile=16).upscale_rgb(rgb)
    assert ((fp32 > 0) & (fp32 < 1)).all() and fp32.std() > 0.05
    on_cpu = TiledUpsampler(unclipped_net(), 4, tile=16, half=True)
    assert not on_cpu.half and next(on_cpu.net.parameters()).dtype == torch.float32
    forced = TiledUpsampler(unclipped_net(), 4, tile=16)
    forced.half, forced.net = True, forced.net.half()  # what the constructor does on CUDA
    fp16 = forced.upscale_rgb(rgb)
    assert fp16.dtype == np.float32 and fp16.shape == fp32.shape
    assert 0 < np.abs(fp16 - fp32).max() <= 1 / 255  # it ran in fp16, and fp16 is enough for 8-bit output


def test_pre_pad_is_cropped_and_size_requirements():
    net2 = build_sr_network(dict(TINY_RRDB_OPT, scale=2))
    assert size_requirements(net2, 2).multiple_of == 2 and size_requirements(make_tiny_rrdbnet(), 4).multiple_of == 1
    out = TiledUpsampler(net2, 2, pre_pad=5).upscale_rgb(_photo(33, 47))
    assert out.shape == (66, 94, 3)
    with pytest.raises(ValueError, match='tile_pad'):
        TiledUpsampler(net2, 2, tile_pad=-1)


def test_alpha_and_gray_and_16bit_keep_their_form():
    upsampler = TiledUpsampler(make_tiny_rrdbnet(0), 4)
    rgba16 = (np.random.RandomState(0).rand(20, 24, 4) * 65535).astype(np.uint16)
    out = upsampler.upscale(decode_image(rgba16))
    assert out.max_value == 65535 and out.alpha.shape == (80, 96) and out.rgb.shape == (80, 96, 3)
    linear = upsampler.upscale(decode_image(rgba16), alpha_upsampler='linear')
    expected_alpha = cv2.resize(rgba16[..., 3].astype(np.float32) / 65535, (96, 80), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(linear.alpha, expected_alpha, atol=1e-6)
    gray = upsampler.upscale(decode_image((np.random.RandomState(1).rand(20, 24) * 255).astype(np.uint8)))
    assert gray.is_gray and gray.alpha is None
    with pytest.raises(ValueError, match='alpha_upsampler'):
        upsampler.upscale(decode_image(rgba16), alpha_upsampler='cubic')


def _write_inputs(folder):
    """LR inputs as people have them: 8/16-bit PNG, JPEG, gray, RGBA (in a subfolder), odd size, and a non-image."""
    rng = np.random.RandomState(0)
    (folder / 'sub').mkdir(parents=True)
    photo = (_photo(37, 45) * 255).astype(np.uint8)[..., ::-1]
    cv2.imwrite(str(folder / 'photo.png'), photo)
    cv2.imwrite(str(folder / 'photo16.png'), photo.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / 'photo.jpg'), photo)
    cv2.imwrite(str(folder / 'gray.png'), photo[..., 0])
    cv2.imwrite(str(folder / 'sub' / 'rgba.png'), np.dstack([photo, rng.randint(0, 256, photo.shape[:2], np.uint8)]))
    (folder / 'notes.txt').write_text('not an image')
    return ['gray.png', 'photo.jpg', 'photo.png', 'photo16.png', 'sub/rgba.png']


def test_infer_command_end_to_end(tmp_path, tiny_rrdb_checkpoint):
    inputs = _write_inputs(tmp_path / 'lr')
    args = ['desra/infer.py', '-opt', 'options/infer.yml', '--force_yml', 'name=run', 'num_gpu=0',
            f'datasets:test:dataroot_lq={tmp_path / "lr"}', f'path:pretrain_network_g={tiny_rrdb_checkpoint}',
            f'path:results_root={tmp_path / "results"}', 'network_g:num_feat=8', 'network_g:num_block=1',
            'network_g:num_grow_ch=4', 'tile:tile_size=16']
    first = run_command(args)
    assert first.returncode == 1, first.stderr  # notes.txt is not an image
    assert 'notes.txt: not a readable image' in first.stdout
    assert '5 written, 0 already done, 1 failed' in first.stdout
    out_root = tmp_path / 'results' / 'run'
    for rel in inputs:
        src, out = read_image(tmp_path / 'lr' / rel), read_image(out_root / rel)
        assert out.dtype == src.dtype and out.ndim == src.ndim
        assert out.shape[:2] == (src.shape[0] * 4, src.shape[1] * 4)
    assert read_image(out_root / 'sub' / 'rgba.png').shape[2] == 4

    second = run_command(args)
    assert '0 written, 5 already done, 1 failed' in second.stdout


def test_infer_command_missing_weights_names_the_file(tmp_path):
    result = run_command(['desra/infer.py', '-opt', 'options/infer.yml', '--force_yml', 'num_gpu=0',
                          f'path:pretrain_network_g={tmp_path / "absent.pth"}', f'path:results_root={tmp_path}'])
    assert result.returncode == 2
    assert f'path:pretrain_network_g: {tmp_path / "absent.pth"}: no such file' in result.stderr
    assert not (tmp_path / 'infer_RealESRGAN_x4plus').exists()  # checked before any folder is made
    assert 'Traceback' not in result.stderr
