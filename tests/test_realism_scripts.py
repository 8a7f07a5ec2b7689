"""The realism figures in the scripts' printed summaries: the demo's goals and the fine-tuning table's columns."""
import importlib.util
import os

import pytest

from desra.evaluation.summary import summary_text
from tests.conftest import REPO_ROOT


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO_ROOT, 'scripts', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def summary(**overrides):
    """A ``finetune_eval.json`` summary of a collapsed run (the shape desra/test.py writes)."""
    total = {'images': 2, 'before_pixels': 100, 'before_percent': 1.0, 'after_pixels': 0, 'after_percent': 0.0,
             'before_parts': 3, 'after_parts': 0, 'removal_rate': 1.0, 'addition_rate': 0.0,
             'mean_psnr_outside': 28.0, 'mean_ssim_outside': 0.7, 'mean_niqe_gan': 5.0, 'mean_niqe_mse': 8.0,
             'mean_niqe_finetuned': 7.5, 'mean_detail_retention': 0.3, 'mean_mse_detail_retention': 0.5,
             'min_detail_retention': 0.25, 'realism': 'collapsed on 2 of 2 images'}
    total.update(overrides)
    return total


IMAGES = [{'image': 'grass', 'removal_rate': 1.0, 'texture_reduction': 0.6, 'detail_retention': 0.25,
           'mse_detail_retention': 0.5, 'niqe_gan': 5.0, 'niqe_mse': 8.0, 'niqe_finetuned': 7.0,
           'realism': 'collapsed'},
          {'image': 'tiny', 'detail_retention': 0.35, 'mse_detail_retention': 0.5, 'niqe_gan': None, 'niqe_mse': None,
           'niqe_finetuned': None, 'realism': 'collapsed'}]


def test_demo_summary_prints_realism_and_says_which_goals_are_not_met():
    run_demo = load_script('run_demo')
    text = summary_text(summary(), IMAGES) + '\n' + run_demo.goals_text(summary())
    assert 'NIQE               GAN 5.00 / MSE 8.00 / fine-tuned 7.50' in text
    assert 'detail retention   mean 0.300, min 0.250' in text and 'MSE model: 0.500' in text
    assert 'realism            collapsed on 2 of 2 images' in text
    assert 'grass  1.000, 0.600, 0.250 (0.500), 5.00 / 8.00 / 7.00, collapsed' in text
    assert 'tiny   n/a, n/a, 0.350 (0.500), n/a / n/a / n/a, collapsed' in text
    assert 'texture reduction  n/a' in text  # a summary of an earlier version, without the texture figures
    assert 'texture reduction  0.420' in summary_text(summary(texture_reduction=0.42), IMAGES)
    assert 'met      removal rate >= 0.85' in text and 'met      addition rate <= 0.05' in text
    assert 'not met  texture-difference reduction >= 0.5' in text  # not in this summary: not met
    assert 'not met  mean NIQE fine-tuned <= mean NIQE GAN + 0.3' in text
    assert 'not met  detail retention >= 0.85 on every held-out image' in text
    assert 'nothing was removed' not in text


@pytest.mark.parametrize('overrides, warning', [
    ({'removal_rate': 0.0, 'after_pixels': 100}, 'but nothing was removed: every artifact pixel of the original'),
    ({'before_pixels': 0, 'removal_rate': None}, 'but the original GAN has no detected artifact on these images'),
])
def test_an_evaluation_that_removed_nothing_does_not_read_as_success(overrides, warning):
    text = summary_text(summary(realism='kept on 2 of 2 images', **overrides), IMAGES)
    assert f'realism            kept on 2 of 2 images, {warning}' in text


@pytest.mark.parametrize('overrides, met', [
    ({'mean_niqe_finetuned': 5.3, 'min_detail_retention': 0.85, 'texture_reduction': 0.5}, [True] * 5),
    ({'mean_niqe_finetuned': 5.31, 'min_detail_retention': 0.84, 'texture_reduction': 0.49},
     [True, False, True, False, False]),
    ({'removal_rate': None, 'addition_rate': None, 'mean_niqe_gan': None}, [False] * 5),
    ({'removal_rate': 0.84, 'addition_rate': 0.051}, [False] * 5),
])
def test_demo_goals(overrides, met):
    assert [ok for _, ok in load_script('run_demo').goals_met(summary(**overrides))] == met


def test_finetune_table_has_the_realism_columns():
    table = load_script('reproduce_finetune_table').format_table([dict(summary(), sr_model='RealESRGAN')])
    header, row = table.splitlines()
    assert header.split()[-6:] == ['mean_niqe_gan', 'mean_niqe_mse', 'mean_niqe_finetuned', 'mean_detail_retention',
                                   'min_detail_retention', 'realism']
    assert row.split()[-11:-6] == ['5.00', '8.00', '7.50', '0.3000', '0.2500']
    assert row.endswith('collapsed on 2 of 2 images')
