"""Hub ids ``hf://owner/repo[@revision]/file`` for weights, resolved offline from a fake Hugging Face cache laid out
as ``huggingface_hub`` lays out its own (``models--owner--repo/{refs/main, snapshots/<commit>/<file>}``)."""
import os

import huggingface_hub
import numpy as np
import pytest
import torch
from conftest import TINY_RRDB_OPT, make_tiny_rrdbnet, run_command

from desra.inference import build_upsampler
from desra.weights.checkpoint import load_state_dict
from desra.weights.hub import download_command, parse_hub_id, resolve_weights

COMMIT = 'a' * 40


def cache_file(hub_cache, repo_id, filename, data=b''):
    """Put ``filename`` of ``repo_id`` (main branch at :data:`COMMIT`) into a hub cache folder; return its path."""
    repo_folder = os.path.join(hub_cache, 'models--' + repo_id.replace('/', '--'))
    os.makedirs(os.path.join(repo_folder, 'refs'), exist_ok=True)
    with open(os.path.join(repo_folder, 'refs', 'main'), 'w') as f:
        f.write(COMMIT)
    path = os.path.join(repo_folder, 'snapshots', COMMIT, *filename.split('/'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return path


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty hub cache in ``tmp_path`` with downloads off (what ``HF_HOME`` / ``HF_HUB_OFFLINE=1`` set at import)."""
    hub_cache = str(tmp_path / 'hf' / 'hub')
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', hub_cache)
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)
    return hub_cache


@pytest.mark.parametrize('hub_id, parts', [
    ('hf://owner/repo/net.pth', ('owner/repo', 'net.pth', None)),
    ('hf://owner/repo/sub/dir/net.safetensors', ('owner/repo', 'sub/dir/net.safetensors', None)),
    ('hf://owner/repo@v1.0/net.pth', ('owner/repo', 'net.pth', 'v1.0')),
    ('hf://owner/repo', ('owner/repo', None, None)),
    ('hf://owner/repo@main', ('owner/repo', None, 'main')),
])
def test_parse_hub_id(hub_id, parts):
    assert parse_hub_id(hub_id) == parts


@pytest.mark.parametrize('hub_id', ['hf://', 'hf://owner', 'hf://owner/', 'hf:///repo/file'])
def test_malformed_hub_id_is_an_error_with_the_form(hub_id):
    with pytest.raises(ValueError, match='hf://<owner>/<repo>/<file>'):
        resolve_weights(hub_id)


def test_local_paths_are_unchanged(tmp_path):
    assert resolve_weights(tmp_path / 'w.pth') == str(tmp_path / 'w.pth')
    assert resolve_weights('owner/repo/w.pth') == 'owner/repo/w.pth'


def test_download_command_is_the_current_cli():
    assert download_command('o/r', 'a/b.pth') == 'hf download o/r a/b.pth'
    assert download_command('o/r', None, 'v2') == 'hf download o/r --revision v2'


def test_cached_file_resolves_offline(offline_cache):
    path = cache_file(offline_cache, 'owner/sr-model', 'weights/net.pth', b'x')
    assert resolve_weights('hf://owner/sr-model/weights/net.pth') == path
    assert resolve_weights(f'hf://owner/sr-model@{COMMIT}/weights/net.pth') == path


def test_offline_miss_names_the_download_command(offline_cache):
    cache_file(offline_cache, 'owner/sr-model', 'weights/net.pth')
    with pytest.raises(FileNotFoundError) as error:
        resolve_weights('hf://owner/sr-model/other.pth')
    message = str(error.value)
    assert message.startswith('hf://owner/sr-model/other.pth: not in the local Hugging Face cache')
    assert 'HF_HUB_OFFLINE=1' in message and '`hf download owner/sr-model other.pth`' in message
    with pytest.raises(FileNotFoundError, match=r'`hf download owner/none net.pth --revision v2`'):
        resolve_weights('hf://owner/none@v2/net.pth')


def test_sr_weights_by_hub_id_build_the_network(offline_cache):
    """``path: pretrain_network_<role>: hf://...`` loads the cached checkpoint, as a local path would."""
    net = make_tiny_rrdbnet(3)
    path = cache_file(offline_cache, 'owner/tiny-esrgan', 'tiny.pth')
    torch.save({'params_ema': net.state_dict()}, path)
    state_dict, key = load_state_dict('hf://owner/tiny-esrgan/tiny.pth')
    assert key == 'params_ema' and torch.equal(state_dict['conv_first.weight'], net.conv_first.weight)
    opt = {'network_gan': TINY_RRDB_OPT, 'path': {'pretrain_network_gan': 'hf://owner/tiny-esrgan/tiny.pth'},
           'scale': 4}
    upsampler = build_upsampler(opt, 'gan', 'cpu')
    lr = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(lr))
    with torch.no_grad():
        assert torch.equal(upsampler.net(torch.from_numpy(lr)), expected)


def test_environment_variables_select_the_cache_and_offline_mode(tmp_path):
    """The user's way: ``HF_HOME`` and ``HF_HUB_OFFLINE=1`` in the environment of a fresh process."""
    path = cache_file(str(tmp_path / 'hf' / 'hub'), 'owner/sr-model', 'net.pth')
    env = dict(os.environ, HF_HOME=str(tmp_path / 'hf'), HF_HUB_OFFLINE='1')
    env.pop('HF_HUB_CACHE', None)
    code = ('from desra.weights.hub import resolve_weights\nprint(resolve_weights("hf://owner/sr-model/net.pth"))\n'
            'resolve_weights("hf://owner/sr-model/missing.pth")')
    result = run_command(['-c', code], env=env)
    assert result.stdout.strip() == path
    assert 'HF_HUB_OFFLINE=1' in result.stderr and 'hf download owner/sr-model missing.pth' in result.stderr


def test_without_a_network_the_cache_answers_at_once(offline_cache, monkeypatch):
    """HF_HUB_OFFLINE unset but no name service for the hub: the cache is read without the ~25 s of retries, and a
    miss says there is no network."""
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', False)
    monkeypatch.setattr(huggingface_hub.constants, 'ENDPOINT', 'https://hub.example.invalid')  # never resolves
    path = cache_file(offline_cache, 'owner/sr-model', 'net.pth', b'x')
    assert resolve_weights('hf://owner/sr-model/net.pth') == path
    with pytest.raises(FileNotFoundError, match=r'other.pth: not in the local Hugging Face cache .* and no network '
                                                r'\(hub.example.invalid cannot be resolved\); fetch it with '
                                                r'`hf download owner/sr-model other.pth`'):
        resolve_weights('hf://owner/sr-model/other.pth')
