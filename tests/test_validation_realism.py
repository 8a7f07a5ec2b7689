"""Realism in the training validation (``val:``): NIQE and detail retention against the original generator."""
import copy
import logging
import math

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from desra.detection import ArtifactDetector
from desra.inference import TiledUpsampler
from desra.io.images import decode_image, load_rgb255, read_image
from desra.metrics.realism import niqe_score, score_realism
from desra.models.artifact_validation import to_rgb255
from desra.weights.checkpoint import same_weights
from tests.conftest import FixedGaussianBlur, make_tiny_rrdbnet
from tests.test_desra_model import build, val_loader, validation_options, write_validation_images


class ScalarRecorder:
    """A stand-in for tensorboard's SummaryWriter: ``scalars[tag] = [(step, value)]``."""

    def __init__(self):
        self.scalars = {}

    def add_scalar(self, tag, value, step):
        self.scalars.setdefault(tag, []).append((step, value))

    def last(self, name):
        return self.scalars[f'metrics/heldout/{name}'][-1][1]


class LogRecorder(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def basicsr_log():
    handler = LogRecorder()
    logger = logging.getLogger('basicsr')
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def write_photo_images(root):
    """Two 48x48 LR crops of a photo (SR 192x192: NIQE is defined) and smooth MSE-SR stand-ins (bicubic x4)."""
    photo = cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA)[..., ::-1]
    (root / 'lq').mkdir()
    (root / 'mse').mkdir()
    for name, lq in (('a', photo[:48, :48]), ('b', photo[48:, 48:])):
        cv2.imwrite(str(root / 'lq' / f'{name}.png'), lq)
        cv2.imwrite(str(root / 'mse' / f'{name}.png'), cv2.resize(lq, (192, 192), interpolation=cv2.INTER_CUBIC))


def textured_options(tmp_path):
    """Validation options with a generator that paints texture (torch's default initialisation, as a file; basicsr's
    initialisation of a fresh RRDBNet gives a black image)."""
    opt = validation_options(tmp_path)
    weights = make_tiny_rrdbnet(1).state_dict()
    torch.save({'params': weights, 'params_ema': weights}, tmp_path / 'gan.pth')
    opt['path'].update(pretrain_network_g=str(tmp_path / 'gan.pth'), experiments_root=str(tmp_path / 'experiment'))
    return opt


def photo_options(tmp_path):
    opt = textured_options(tmp_path)
    opt['val']['detector']['threshold'] = 0.3  # small masks: detail is measured on most pixels
    return opt


def expected_realism(tmp_path, opt, net, original_net, name):
    """The realism figures of one image, computed here from the networks and the detector."""
    lq = decode_image(read_image(str(tmp_path / 'lq' / f'{name}.png'))).rgb
    mse = load_rgb255(str(tmp_path / 'mse' / f'{name}.png'))
    sr, gan = (to_rgb255(TiledUpsampler(n, 4).upscale_rgb(lq)) for n in (net, original_net))
    detector = ArtifactDetector(opt['val']['detector'])
    outside = ~(detector.detect(mse, sr).mask | detector.detect(mse, gan).mask)
    return score_realism(gan, mse, sr, outside)


def test_validation_logs_realism_kept_then_collapsed(tmp_path, basicsr_log):
    write_photo_images(tmp_path)
    opt = photo_options(tmp_path)
    model = build(opt)
    original = copy.deepcopy(model.net_g_ema)
    tb_logger = ScalarRecorder()
    model.validation(val_loader(opt), 1, tb_logger, save_img=True)
    # the generator has not trained: it is the original
    assert tb_logger.last('detail_retention') == pytest.approx(1.0) == tb_logger.last('min_detail_retention')
    assert tb_logger.last('collapsed_images') == 0
    niqe = [niqe_score(load_rgb255(str(tmp_path / 'experiment' / 'val_original' / 'heldout' / f'{name}.png')))
            for name in ('a', 'b')]
    assert all(math.isfinite(value) for value in niqe)
    assert tb_logger.last('niqe') == pytest.approx(np.mean(niqe))
    assert any('kept on 2 of 2 images' in line for line in basicsr_log)
    assert any(line.startswith('\ta: ') and 'detail retention 1.000' in line for line in basicsr_log)

    blurred = torch.nn.Sequential(copy.deepcopy(model.net_g_ema), FixedGaussianBlur(2.0))
    model.artifact_validator.validate(blurred, val_loader(opt), 2, tb_logger, save_img=False)
    expected = [expected_realism(tmp_path, opt, blurred, original, name) for name in ('a', 'b')]
    assert [scores['realism'] for scores in expected] == ['collapsed', 'collapsed']
    assert tb_logger.last('collapsed_images') == 2
    assert tb_logger.last('detail_retention') == pytest.approx(np.mean([s['detail_retention'] for s in expected]))
    assert tb_logger.last('niqe') == pytest.approx(np.mean([s['niqe_finetuned'] for s in expected]))
    assert tb_logger.last('niqe') > np.mean(niqe)
    assert any('collapsed on 2 of 2 images' in line for line in basicsr_log)


def test_original_results_are_made_once_and_read_back_after_a_resume(tmp_path, basicsr_log):
    write_photo_images(tmp_path)
    opt = photo_options(tmp_path)
    model = build(opt)
    validator = model.artifact_validator
    calls = []
    validator.original_upsampler.net.register_forward_hook(lambda *args: calls.append(1))
    for current_iter in (1, 2):
        model.validation(val_loader(opt), current_iter, None, save_img=False)
    assert len(calls) == 2  # one per image, at the first validation
    assert validator.original_upsampler is None  # every dataset has its originals: the copy is dropped
    originals = {path: kept['gan'] for path, kept in validator.originals.items()}

    resumed = build(opt)  # another generator, as after a resume: the originals come from the disk cache
    with torch.no_grad():
        for param in resumed.net_g_ema.parameters():
            param.add_(0.01)
    resumed.artifact_validator.forget_original_generator()
    tb_logger = ScalarRecorder()
    resumed.validation(val_loader(opt), 3, tb_logger, save_img=False)
    for path, gan in originals.items():
        np.testing.assert_allclose(resumed.artifact_validator.originals[path]['gan'], gan, rtol=0, atol=1e-5)
    assert tb_logger.last('detail_retention') != pytest.approx(1.0, abs=1e-6)

    opt['path'].pop('experiments_root')  # resumed before any cache was written
    unknown = build(opt)
    unknown.artifact_validator.forget_original_generator()
    tb_logger = ScalarRecorder()
    unknown.validation(val_loader(opt), 4, tb_logger, save_img=False)
    assert 'metrics/heldout/detail_retention' not in tb_logger.scalars
    assert any('no realism figures' in line for line in basicsr_log)


def test_small_validation_images_have_nan_niqe_and_a_verdict_from_detail(tmp_path):
    write_validation_images(tmp_path)  # 16x16 LR: 64x64 SR, under NIQE's two 96x96 blocks
    opt = textured_options(tmp_path)
    model = build(opt)
    tb_logger = ScalarRecorder()
    model.validation(val_loader(opt), 1, tb_logger, save_img=False)
    assert math.isnan(tb_logger.last('niqe'))
    assert tb_logger.last('detail_retention') == pytest.approx(1.0)
    assert all(math.isnan(kept['niqe']['gan']) for kept in model.artifact_validator.originals.values())


def test_validation_realism_thresholds_are_checked(tmp_path):
    write_validation_images(tmp_path)
    opt = validation_options(tmp_path)
    opt['val']['realism'] = {'min_retention': -1}
    with pytest.raises(ValueError, match='option val:realism:min_retention must be a number >= 0'):
        build(opt)


def test_the_frozen_target_generator_is_the_validations_original_when_it_holds_the_same_weights(tmp_path):
    """No second copy of the generator: with ``target_outside: frozen_generator`` the validation's original GAN is
    the frozen target itself; without a frozen target it is a frozen copy of the EMA generator of its own."""
    write_photo_images(tmp_path)
    opt = photo_options(tmp_path)
    opt['train']['target_outside'] = 'frozen_generator'
    model = build(opt)
    assert model.artifact_validator.original_upsampler.net is model.net_g_frozen
    opt['train']['target_outside'] = 'pseudo_gt'
    model = build(opt)
    original = model.artifact_validator.original_upsampler.net
    assert original is not model.net_g_ema and not original.training
    assert all(not p.requires_grad for p in original.parameters())
    assert all(torch.equal(a, b) for a, b in zip(original.state_dict().values(), model.net_g_ema.state_dict().values()))
    # same_weights, which decides it: equal tensors under equal names
    changed = copy.deepcopy(model.net_g_ema)
    assert same_weights(changed, model.net_g_ema)
    with torch.no_grad():
        next(changed.parameters()).add_(1e-3)
    assert not same_weights(changed, model.net_g_ema)
