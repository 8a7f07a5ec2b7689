"""Realism in the evaluation run (``desra/test.py``): an identical copy of the GAN is kept, a blurred copy collapsed.

The models are tiny RRDBNets on 48x56 LR crops of a photo (SR 192x224 px, so NIQE is defined); the fine-tuned model
is the GAN itself or the GAN followed by a fixed Gaussian blur, and the MSE model is the GAN followed by a milder blur.
"""
import csv
import json
import math
import os

import cv2
import pytest
import torch
import yaml
from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.utils.registry import ARCH_REGISTRY
from conftest import TINY_RRDB_OPT, FixedGaussianBlur, make_tiny_rrdbnet
from skimage import data

from desra.io.images import load_rgb255, read_image, write_image
from desra.metrics.realism import REALISM_FIELDS, score_realism
from desra.test import main as evaluate_command


@ARCH_REGISTRY.register()
class BlurredRRDBNet(RRDBNet):
    """An RRDBNet followed by a fixed Gaussian blur of ``blur_sigma`` pixels (its weights are RRDBNet's)."""

    def __init__(self, blur_sigma, **kwargs):
        super().__init__(**kwargs)
        self.blur = FixedGaussianBlur(blur_sigma)

    def forward(self, x):
        return self.blur(super().forward(x))


def blurred(sigma):
    return dict(TINY_RRDB_OPT, type='BlurredRRDBNet', blur_sigma=sigma)


def run_evaluation(tmp_path, finetuned_network, realism=None, lr_size=(48, 56)):
    """Run the test command on two LR crops (``lr_size`` (h, w)) of a photo; return the run folder."""
    photo = cv2.resize(data.astronaut(), (112, 96), interpolation=cv2.INTER_AREA)
    height, width = lr_size
    for name, crop in (('left', photo[:height, :width]), ('right', photo[48:48 + height, 56:56 + width])):
        write_image(str(tmp_path / 'lr' / f'{name}.png'), crop[..., ::-1].copy())
    gan_path = tmp_path / 'gan.pth'
    torch.save({'params': make_tiny_rrdbnet(1).state_dict()}, gan_path)
    opt = {'name': 'eval', 'num_gpu': 0, 'scale': 4,
           'path': {'results_root': str(tmp_path / 'results'), **{f'pretrain_network_{role}': str(gan_path)
                                                                  for role in ('gan', 'mse', 'finetuned')}},
           'datasets': {'test': {'dataroot_lq': str(tmp_path / 'lr')}},
           'network_gan': TINY_RRDB_OPT, 'network_mse': blurred(1.0), 'network_finetuned': finetuned_network,
           'detector': {'threshold': 0.5, 'min_area': 10, 'segmenter': {'type': 'none'}}}
    if realism is not None:
        opt['realism'] = realism
    (tmp_path / 'test.yml').write_text(yaml.safe_dump(opt))
    assert evaluate_command(['-opt', str(tmp_path / 'test.yml')]) == 0
    return tmp_path / 'results' / 'eval'


def read_outputs(run_root):
    with open(run_root / 'finetune_eval.csv', newline='') as f:
        rows = {row['image']: row for row in csv.DictReader(f)}
    with open(run_root / 'finetune_eval.json') as f:
        report = json.load(f)
    with open(run_root / 'index.html', encoding='utf-8') as f:
        html = f.read()
    return rows, report, html


def expected_realism(run_root, name):
    """The realism figures of the masks and SR results the run left on disk."""
    images = {role: load_rgb255(str(run_root / f'sr_{role}' / f'{name}.png')) for role in ('gan', 'mse', 'finetuned')}
    before = read_image(str(run_root / 'detect_gan' / 'masks' / f'{name}.png')) > 0
    after = read_image(str(run_root / 'detect_finetuned' / 'masks' / f'{name}.png')) > 0
    return score_realism(images['gan'], images['mse'], images['finetuned'], ~(before | after))


def test_identical_copy_of_the_gan_is_kept(tmp_path):
    run_root = run_evaluation(tmp_path, TINY_RRDB_OPT)
    rows, report, html = read_outputs(run_root)
    assert set(rows) == {'left', 'right'} and list(rows['left'])[-len(REALISM_FIELDS):] == list(REALISM_FIELDS)
    for name, row in rows.items():
        for role in ('gan', 'mse', 'finetuned'):  # one PNG per held-out image in each SR folder
            assert os.path.isfile(run_root / f'sr_{role}' / f'{name}.png')
        assert float(row['detail_retention']) == pytest.approx(1.0)
        assert float(row['niqe_finetuned']) == pytest.approx(float(row['niqe_gan']))
        assert math.isfinite(float(row['niqe_gan'])) and row['realism'] == 'kept'
        assert float(row['mse_detail_retention']) < 0.8  # the MSE stand-in is smoother: the test means something
    summary = report['summary']
    assert summary['realism'] == 'kept on 2 of 2 images'
    assert (summary['realism_kept'], summary['realism_collapsed'], summary['realism_na']) == (2, 0, 0)
    assert summary['mean_detail_retention'] == pytest.approx(1.0) == summary['min_detail_retention']
    assert summary['mean_niqe_gan'] == pytest.approx(sum(float(row['niqe_gan']) for row in rows.values()) / 2)
    assert 'kept on 2 of 2 images' in html and 'NIQE GAN / MSE / fine-tuned' in html


def test_blurred_copy_of_the_gan_is_a_collapse(tmp_path):
    run_root = run_evaluation(tmp_path, blurred(2.0), realism={'niqe_margin': 0.5, 'min_retention': 0.8})
    rows, report, html = read_outputs(run_root)
    for name, row in rows.items():
        expected = expected_realism(run_root, name)  # the same masks and SR results as the other figures
        for key in REALISM_FIELDS[:-1]:
            assert float(row[key]) == pytest.approx(expected[key], rel=1e-6), key
        assert row['realism'] == expected['realism'] == 'collapsed'
        assert float(row['detail_retention']) < float(row['mse_detail_retention']) < 1
    summary = report['summary']
    assert summary['realism'] == 'collapsed on 2 of 2 images' and summary['realism_collapsed'] == 2
    assert summary['min_detail_retention'] == pytest.approx(min(float(row['detail_retention'])
                                                                for row in rows.values()))
    assert report['images'][0]['realism'] == 'collapsed'
    assert 'collapsed on 2 of 2 images' in html


def test_realism_thresholds_come_from_the_options(tmp_path):
    # with no detail required and any NIQE rise allowed, the blurred copy is no longer judged softened
    run_root = run_evaluation(tmp_path, blurred(2.0), realism={'niqe_margin': 100, 'min_retention': 0})
    rows, report, _ = read_outputs(run_root)
    assert {row['realism'] for row in rows.values()} == {'kept'}
    (tmp_path / 'bad.yml').write_text((tmp_path / 'test.yml').read_text().replace('min_retention', 'min_retension'))
    with pytest.raises(ValueError, match='realism:min_retension: unknown option; did you mean "min_retention"'):
        evaluate_command(['-opt', str(tmp_path / 'bad.yml')])


def test_small_images_have_no_niqe_but_a_verdict_from_detail(tmp_path):
    run_root = run_evaluation(tmp_path, blurred(2.0), lr_size=(24, 28))  # SR 96x112 px: one NIQE block
    rows, report, _ = read_outputs(run_root)
    for row in rows.values():
        assert row['niqe_gan'] == row['niqe_finetuned'] == 'nan'
        assert row['realism'] == 'collapsed'  # detail alone names it
    assert report['summary']['mean_niqe_gan'] is None and report['summary']['realism_collapsed'] == 2
