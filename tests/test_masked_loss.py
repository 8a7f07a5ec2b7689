"""The mask-restricted and region-weighted losses against their formulas, and LDL's artifact loss against a direct
computation."""
import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch.nn import functional as F

import desra  # noqa: F401  (registrations)
from basicsr.losses import build_loss
from basicsr.losses.gan_loss import GANLoss
from desra.losses import perceptual_loss
from desra.losses.ldl_loss import LDLArtifactLoss
from desra.losses.masked_loss import MaskedL1Loss, RegionGANLoss
from desra.losses.perceptual_loss import RegionPerceptualLoss, find_vgg19_weights


def random_batch(seed=0, shape=(2, 3, 8, 8)):
    generator = torch.Generator().manual_seed(seed)
    pred, target = torch.rand(shape, generator=generator), torch.rand(shape, generator=generator)
    mask = (torch.rand((shape[0], 1, *shape[2:]), generator=generator) > 0.6).float()
    return pred, target, mask


def test_masked_l1_is_the_mean_error_over_mask_pixels():
    pred = torch.zeros(1, 2, 2, 2)
    target = torch.tensor([[[[1., 2.], [3., 4.]], [[5., 6.], [7., 8.]]]])
    mask = torch.tensor([[[[1., 0.], [0., 1.]]]])  # pixels (0, 0) and (1, 1)
    # (|1| + |4| + |5| + |8|) / (2 channels * 2 pixels) = 4.5
    assert MaskedL1Loss()(pred, target, mask).item() == pytest.approx(4.5)
    assert MaskedL1Loss(loss_weight=0.5)(pred, target, mask).item() == pytest.approx(2.25)


def test_masked_l1_matches_formula_on_random_data():
    pred, target, mask = random_batch()
    p, t, m = (x.double().numpy() for x in (pred, target, mask))
    expected = (m * np.abs(p - t)).sum() / (3 * m.sum() + 1e-8)
    assert MaskedL1Loss()(pred, target, mask).item() == pytest.approx(expected, rel=1e-6)
    assert MaskedL1Loss(reduction='sum')(pred, target, mask).item() == pytest.approx((m * np.abs(p - t)).sum(),
                                                                                     rel=1e-6)
    np.testing.assert_allclose(MaskedL1Loss(reduction='none')(pred, target, mask).numpy(), m * np.abs(p - t),
                               rtol=1e-6)


def test_masked_l1_of_an_empty_mask_is_zero_with_zero_gradient():
    pred, target, _ = random_batch()
    pred.requires_grad_(True)
    loss = MaskedL1Loss()(pred, target, torch.zeros(2, 1, 8, 8))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.count_nonzero(pred.grad) == 0


def test_masked_l1_is_registered_and_rejects_unknown_reduction():
    assert isinstance(build_loss({'type': 'MaskedL1Loss', 'loss_weight': 2.0}), MaskedL1Loss)
    with pytest.raises(ValueError, match='reduction'):
        MaskedL1Loss(reduction='max')


@pytest.mark.parametrize('gan_type', ['vanilla', 'lsgan'])
def test_region_gan_loss_weighting(gan_type):
    logits, _, mask = random_batch(1, shape=(2, 1, 8, 8))
    logits = logits * 4 - 2
    plain = GANLoss(gan_type, loss_weight=0.1)
    region = RegionGANLoss(gan_type, loss_weight=0.1)
    # no weight: exactly basicsr's GANLoss; all-ones weight: the same value
    assert torch.equal(region(logits, True), plain(logits, True))
    assert region(logits, True, weight=torch.ones_like(mask)).item() == pytest.approx(plain(logits, True).item())
    # weight 0 inside the mask: the mean loss over the pixels outside it
    element = (F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction='none')
               if gan_type == 'vanilla' else (logits - 1)**2)
    outside = element[mask == 0].mean().item()
    assert region(logits, True, weight=1 - mask).item() == pytest.approx(0.1 * outside, rel=1e-5)
    # the discriminator's loss ignores loss_weight, as GANLoss
    assert region(logits, False, is_disc=True, weight=1 - mask).item() == pytest.approx(
        (F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction='none')
         if gan_type == 'vanilla' else logits**2)[mask == 0].mean().item(), rel=1e-5)


def test_region_gan_loss_refuses_weights_it_cannot_apply():
    with pytest.raises(ValueError, match='vanilla or lsgan'):
        RegionGANLoss('hinge')(torch.zeros(1, 1, 4, 4), True, weight=torch.ones(1, 1, 4, 4))
    with pytest.raises(ValueError, match='per-pixel discriminator'):
        RegionGANLoss('vanilla')(torch.zeros(2, 1), True, weight=torch.ones(2, 1, 4, 4))


class TinyFeatureExtractor(torch.nn.Module):
    """Stands in for basicsr's VGGFeatureExtractor (which needs the 548 MB VGG19): two layers, full and half size."""

    def __init__(self, layer_name_list, **kwargs):
        super().__init__()
        torch.manual_seed(0)
        self.conv1, self.conv2 = torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(4, 5, 3, padding=1)
        self.layer_name_list = layer_name_list

    def forward(self, x):
        first = self.conv1(x)
        return {'conv1_2': first, 'conv2_2': self.conv2(F.max_pool2d(first, 2))}


@pytest.fixture
def tiny_perceptual(tmp_path, monkeypatch):
    monkeypatch.setattr('basicsr.losses.basic_loss.VGGFeatureExtractor', TinyFeatureExtractor)
    monkeypatch.setattr('desra.losses.perceptual_loss.load_vgg19', lambda path: None)  # the extractor is stubbed
    weights = tmp_path / 'vgg19.pth'
    weights.write_bytes(b'')
    return RegionPerceptualLoss({'conv1_2': 0.1, 'conv2_2': 1.0}, vgg19_path=str(weights), perceptual_weight=2.0)


def test_region_perceptual_loss_weights_each_layer_by_region(tiny_perceptual):
    x, gt, mask = random_batch(2)
    plain, _ = tiny_perceptual(x, gt)
    ones, style = tiny_perceptual(x, gt, weight=torch.ones_like(mask))
    assert style is None
    assert ones.item() == pytest.approx(plain.item(), rel=1e-5)
    # weight = mask: each layer's mean |feature difference| over the masked area, the mask area-averaged per layer
    fx, fg = tiny_perceptual.vgg(x), tiny_perceptual.vgg(gt)
    expected = 0
    for layer, layer_weight in (('conv1_2', 0.1), ('conv2_2', 1.0)):
        diff = (fx[layer] - fg[layer]).abs()
        m = F.avg_pool2d(mask, 2) if layer == 'conv2_2' else mask
        expected += layer_weight * (m * diff).sum() / (diff.shape[1] * m.sum())
    weighted, _ = tiny_perceptual(x, gt, weight=mask)
    assert weighted.item() == pytest.approx(2.0 * expected.item(), rel=1e-5)


def test_missing_vgg19_weights_fail_with_directions_and_no_download(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # basicsr's relative experiments/pretrained_models/vgg19-dcbb9e9d.pth is absent
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))

    def no_download(*args, **kwargs):
        raise AssertionError('a download was attempted')

    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', no_download)
    with pytest.raises(FileNotFoundError) as error:
        RegionPerceptualLoss({'conv5_4': 1.0})
    message = str(error.value)
    assert 'vgg19-dcbb9e9d.pth' in message
    assert str(tmp_path / 'hub' / 'checkpoints' / 'vgg19-dcbb9e9d.pth') in message
    assert 'vgg19_path' in message and 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth' in message
    with pytest.raises(FileNotFoundError, match='no such file'):
        find_vgg19_weights(str(tmp_path / 'missing.pth'))
    # found in torchvision's cache
    cached = tmp_path / 'hub' / 'checkpoints' / 'vgg19-dcbb9e9d.pth'
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'')
    assert find_vgg19_weights() == perceptual_loss.vgg19_search_paths()[1] == str(cached)


def direct_artifact_map(gt, output, output_ema, ksize=7):
    """LDL's refined artifact map written out in numpy (float64), per sample."""
    gt, output, output_ema = (x.double().numpy() for x in (gt, output, output_ema))
    residual = np.abs(gt - output).sum(axis=1)  # (N, H, W)
    residual_ema = np.abs(gt - output_ema).sum(axis=1)
    pad = ksize // 2
    maps = []
    for r, r_ema in zip(residual, residual_ema):
        windows = sliding_window_view(np.pad(r, pad, mode='reflect'), (ksize, ksize))  # (H, W, k, k)
        local_var = windows.reshape(*r.shape, -1).var(axis=-1, ddof=1)
        weight = r.var(ddof=1)**0.2 * local_var
        weight[r < r_ema] = 0
        maps.append(weight)
    return np.stack(maps)[:, None]  # (N, 1, H, W)


def test_ldl_artifact_loss_matches_direct_computation():
    generator = torch.Generator().manual_seed(3)
    gt, output, output_ema = (torch.rand(2, 3, 16, 16, generator=generator) for _ in range(3))
    weight = direct_artifact_map(gt, output, output_ema)
    assert (weight == 0).any() and (weight > 0).any()
    expected = np.abs(weight * output.double().numpy() - weight * gt.double().numpy()).mean()
    loss = LDLArtifactLoss(loss_weight=0.5)(output, output_ema, gt)
    assert loss.item() == pytest.approx(0.5 * expected, rel=1e-5)
    assert isinstance(build_loss({'type': 'LDLArtifactLoss'}), LDLArtifactLoss)
