"""Checkpoint loading: every format users have, and a readable error when weights do not fit."""
import pytest
import torch
from basicsr.archs.discriminator_arch import UNetDiscriminatorSN
from basicsr.archs.swinir_arch import SwinIR

from desra.weights.checkpoint import (EMA_OR_PLAIN_PARAM_KEYS, CheckpointMismatchError, load_network_weights,
                                      load_state_dict)
from tests.conftest import make_tiny_rrdbnet


def _assert_same_weights(net, state_dict):
    for key, value in net.state_dict().items():
        assert torch.equal(value, state_dict[key]), key


@pytest.mark.parametrize('layout', ['params_ema+params', 'params', 'bare', 'module_prefix', 'state_dict'])
def test_formats_load_the_right_weights(tmp_path, layout):
    ema, plain = make_tiny_rrdbnet(0).state_dict(), make_tiny_rrdbnet(1).state_dict()
    content, expected, expected_key = {
        'params_ema+params': ({'params_ema': ema, 'params': plain}, ema, 'params_ema'),
        'params': ({'params': plain}, plain, 'params'),
        'bare': (plain, plain, None),
        'module_prefix': ({'params': {f'module.{k}': v for k, v in plain.items()}}, plain, 'params'),
        'state_dict': ({'state_dict': plain, 'meta': {'epoch': 3}}, plain, 'state_dict'),
    }[layout]
    path = tmp_path / 'ckpt.pth'
    torch.save(content, path)
    net = make_tiny_rrdbnet(2)
    assert load_network_weights(net, path) == expected_key
    _assert_same_weights(net, expected)


def test_explicit_param_key_picks_params_over_ema(tmp_path):
    ema, plain = make_tiny_rrdbnet(0).state_dict(), make_tiny_rrdbnet(1).state_dict()
    path = tmp_path / 'ckpt.pth'
    torch.save({'params_ema': ema, 'params': plain}, path)
    net = make_tiny_rrdbnet(2)
    load_network_weights(net, path, param_key='params')
    _assert_same_weights(net, plain)
    with pytest.raises(KeyError, match='no key "params_g"'):
        load_state_dict(path, param_key='params_g')


def test_tuple_param_key_takes_the_first_key_present(tmp_path):
    ema, plain = make_tiny_rrdbnet(0).state_dict(), make_tiny_rrdbnet(1).state_dict()
    torch.save({'params_ema': ema, 'params': plain}, tmp_path / 'both.pth')
    torch.save({'params': plain}, tmp_path / 'ldl.pth')  # LDL's releases hold only 'params'
    net = make_tiny_rrdbnet(2)
    assert load_network_weights(net, tmp_path / 'both.pth', param_key=EMA_OR_PLAIN_PARAM_KEYS) == 'params_ema'
    _assert_same_weights(net, ema)
    assert load_network_weights(net, tmp_path / 'ldl.pth', param_key=EMA_OR_PLAIN_PARAM_KEYS) == 'params'
    _assert_same_weights(net, plain)
    with pytest.raises(KeyError, match='no key "params_g" or "model"'):
        load_state_dict(tmp_path / 'ldl.pth', param_key=('params_g', 'model'))


def test_discriminator_and_swinir_release_layouts(tmp_path):
    # RealESRGAN_x4plus_netD.pth holds {'params': ...}; SwinIR's real-SR releases hold {'params_ema': ...}
    disc = UNetDiscriminatorSN(3, num_feat=8)
    torch.save({'params': disc.state_dict()}, tmp_path / 'netD.pth')
    loaded = UNetDiscriminatorSN(3, num_feat=8)
    assert load_network_weights(loaded, tmp_path / 'netD.pth') == 'params'
    _assert_same_weights(loaded, disc.state_dict())

    swin_opt = dict(upscale=4, in_chans=3, img_size=16, window_size=4, img_range=1., depths=[1], embed_dim=12,
                    num_heads=[2], mlp_ratio=2, upsampler='nearest+conv', resi_connection='1conv')
    swin = SwinIR(**swin_opt)
    torch.save({'params_ema': swin.state_dict()}, tmp_path / 'swinir.pth')
    loaded = SwinIR(**swin_opt)
    assert load_network_weights(loaded, tmp_path / 'swinir.pth') == 'params_ema'
    _assert_same_weights(loaded, swin.state_dict())


def test_mismatch_lists_missing_unexpected_and_shapes(tmp_path):
    state = make_tiny_rrdbnet(0).state_dict()
    state['extra.weight'] = torch.zeros(1)
    del state['conv_last.bias']
    state['conv_first.weight'] = torch.zeros(5, 3, 3, 3)
    path = tmp_path / 'bad.pth'
    torch.save({'params': state}, path)
    with pytest.raises(CheckpointMismatchError) as info:
        load_network_weights(make_tiny_rrdbnet(1), path)
    message = str(info.value)
    assert str(path) in message
    assert 'missing in checkpoint (1):\n    conv_last.bias' in message
    assert 'unexpected in checkpoint (1):\n    extra.weight' in message
    assert 'conv_first.weight: network (8, 3, 3, 3), checkpoint (5, 3, 3, 3)' in message


def test_non_strict_ignores_key_differences_but_not_shapes(tmp_path):
    state = make_tiny_rrdbnet(0).state_dict()
    del state['conv_last.bias']
    torch.save(state, tmp_path / 'partial.pth')
    net = make_tiny_rrdbnet(1)
    kept_bias = net.conv_last.bias.detach().clone()
    load_network_weights(net, tmp_path / 'partial.pth', strict=False)
    assert torch.equal(net.conv_last.bias, kept_bias)
    assert torch.equal(net.conv_first.weight, state['conv_first.weight'])
    state['conv_first.weight'] = torch.zeros(5, 3, 3, 3)
    torch.save(state, tmp_path / 'partial.pth')
    with pytest.raises(CheckpointMismatchError, match='shape differs'):
        load_network_weights(make_tiny_rrdbnet(1), tmp_path / 'partial.pth', strict=False)


def test_missing_file_and_non_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_state_dict(tmp_path / 'nope.pth')
    torch.save([1, 2, 3], tmp_path / 'list.pth')
    with pytest.raises(ValueError, match='expected a dict'):
        load_state_dict(tmp_path / 'list.pth')
