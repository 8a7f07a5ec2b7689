"""Checkpoint selection from validation (``val: select:``): the choice, the record, early stopping, and a run of
desra/train.py on tiny networks that keeps ``net_g_best.pth``."""
import copy
import json
import math

import pytest
import torch
import yaml

from desra.data.listed_lr_dataset import ListedLRDataset
from desra.training.selection import CheckpointSelector, judge, read_selection
from tests.conftest import TINY_RRDB_OPT, write_random_images
from tests.test_train_resume import run_train, write_options
from tests.test_validation_realism import write_photo_images

SELECT = {'retention_min': 0.85, 'niqe_gap_max': 0.3, 'addition_max': 0.05, 'removal_min': 0.85,
          'texture_reduction_min': 0.5}


def figures(removal, retention=0.9, niqe=5.1, addition=0.0, texture=0.6, images=('a', 'b')):
    """What the validator returns (the keys the selection reads)."""
    return {'removal_rate': removal, 'addition_rate': addition, 'texture_reduction': texture,
            'mean_niqe_gan': 5.0, 'mean_niqe_finetuned': niqe, 'min_detail_retention': retention,
            'images': list(images), 'per_image': [], 'realism': 'kept on 2 of 2 images'}


class Saver:
    """Stands in for the model's ``save_generator('best')``: counts the writes."""

    def __init__(self):
        self.calls = []

    def __call__(self):
        self.calls.append(len(self.calls))
        return 'net_g_best.pth'


def test_judge_names_every_missed_threshold_and_undefined_figures_miss():
    missed, goals = judge(figures(0.8, retention=0.84, niqe=5.31, addition=0.06, texture=0.4), SELECT)
    assert missed == ['retention_min: 0.840 vs 0.85', 'niqe_gap_max: 0.310 vs 0.3', 'addition_max: 0.060 vs 0.05']
    assert goals == ['removal_min: 0.800 vs 0.85', 'texture_reduction_min: 0.400 vs 0.5']
    assert judge(figures(0.9), SELECT) == ([], [])
    assert judge(figures(0.9, niqe=math.nan), SELECT)[0] == ['niqe_gap_max: n/a vs 0.3']
    assert judge(figures(None, niqe=math.nan), {key: None for key in SELECT}) == ([], [])  # ~: not checked


def test_selection_keeps_the_most_removal_within_realism_and_records_why(tmp_path):
    saver = Saver()
    selector = CheckpointSelector({**SELECT, 'removal_min': 0.95}, str(tmp_path), saver)
    assert selector.observe(5, figures(0.5)) is True  # eligible, the first: selected (goal missed)
    assert selector.observe(10, figures(0.9)) is True  # more removal
    assert selector.observe(15, figures(0.99, retention=0.7)) is False  # more removal, but realism lost
    assert selector.observe(20, figures(0.9)) is False  # a tie: the earlier iteration stays
    assert saver.calls == [0, 1]  # net_g_best written at iterations 5 and 10 only
    record = json.loads((tmp_path / 'selection.json').read_text())
    assert [v['iter'] for v in record['validations']] == [5, 10, 15, 20]
    assert [v['eligible'] for v in record['validations']] == [True, True, False, True]
    assert record['validations'][2]['failed'] == ['retention_min: 0.700 vs 0.85']
    assert record['selected']['iter'] == 10 and record['selected']['checkpoint'] == 'net_g_best.pth'
    assert record['selected']['reason'] == ('iteration 10: removal_rate 0.900, the highest within realism, but it '
                                            'misses removal_min: 0.900 vs 0.95')
    assert record['images'] == ['a', 'b']
    message = selector.finish(25)
    assert 'net_g_best.pth = iteration 10' in message and saver.calls == [0, 1]  # nothing more written
    # a later validation that meets every goal wins over more removal that misses one
    selector = CheckpointSelector({**SELECT, 'texture_reduction_min': 0.5}, str(tmp_path / 'b'), Saver())
    selector.observe(5, figures(0.99, texture=0.4))
    selector.observe(10, figures(0.9, texture=0.6))
    assert selector.record['selected']['iter'] == 10 and 'meets every goal' in selector.record['selected']['reason']


def test_thresholds_no_validation_meets_keep_the_last_checkpoint_and_say_so(tmp_path):
    saver = Saver()
    selector = CheckpointSelector(SELECT, str(tmp_path), saver)
    for current_iter in (5, 10):
        assert selector.observe(current_iter, figures(0.99, niqe=6.0)) is False
    assert saver.calls == []
    message = selector.finish(12)
    assert saver.calls == [0]  # the last weights, written now: never an empty or missing best file
    record = json.loads((tmp_path / 'selection.json').read_text())
    assert record['selected']['selected_by'] == 'last checkpoint' and record['selected']['iter'] == 12
    assert 'no validation met the thresholds of val:select' in message and 'niqe_gap_max: 1.000 vs 0.3' in message


def test_early_stop_after_patience_validations_without_realism_or_without_more_removal(tmp_path):
    selector = CheckpointSelector({**SELECT, 'patience': 2}, str(tmp_path), Saver())
    selector.observe(5, figures(0.5))
    assert selector.stop_reason() is None
    selector.observe(10, figures(0.6, retention=0.5))
    assert selector.stop_reason() is None  # one failing validation is not enough
    selector.observe(15, figures(0.7, retention=0.5))
    assert selector.stop_reason().startswith('the last 2 validation(s) failed the thresholds (retention_min')
    selector = CheckpointSelector({**SELECT, 'patience': 2}, str(tmp_path / 'b'), Saver())
    for current_iter, removal in ((5, 0.8), (10, 0.9), (15, 0.85), (20, 0.9)):
        selector.observe(current_iter, figures(removal))
    assert selector.stop_reason() == 'removal_rate did not rise above 0.900 in the last 2 validation(s)'
    assert CheckpointSelector(SELECT, str(tmp_path / 'c'), Saver()).stop_reason() is None  # patience 0: never


def test_a_resumed_selection_reads_back_the_validations_before_its_state(tmp_path):
    selector = CheckpointSelector(SELECT, str(tmp_path), Saver())
    selector.observe(5, figures(0.9))
    selector.observe(10, figures(0.95))
    resumed = CheckpointSelector(SELECT, str(tmp_path), Saver(), resume_iter=5)
    assert [v['iter'] for v in resumed.record['validations']] == [5]
    # iteration 10 was chosen after the state (it is trained and validated again): iteration 5 is selected again,
    # with no weights, as no net_g_5 checkpoint was kept (test_a_resumed_selection_made_after_its_state_...)
    assert resumed.record['selected']['iter'] == 5 and resumed.record['selected']['checkpoint'] is None
    assert resumed.observe(10, figures(0.95)) is True and resumed.record['selected']['iter'] == 10
    assert CheckpointSelector(SELECT, str(tmp_path), Saver()).record['validations'] == []  # a fresh run


class IterationSaver:
    """Stands in for ``save_generator``: writes ``net_g_<label>.pth`` holding ``{'iter': the model's iteration}``."""

    def __init__(self, models):
        self.models, self.iter = models, None

    def __call__(self, label='best'):
        torch.save({'iter': self.iter}, self.models / f'net_g_{label}.pth')
        return f'net_g_{label}.pth'


def test_a_resumed_selection_made_after_its_state_is_made_again_with_the_weights_it_names(tmp_path):
    saver = IterationSaver(tmp_path)
    selector = CheckpointSelector(SELECT, str(tmp_path), saver)
    for current_iter, removal in ((10, 0.9), (20, 0.95), (30, 0.99)):  # each validation raises the removal
        saver.iter = current_iter
        saver(current_iter)  # the checkpoint of the iteration, as model.save writes it before the validation
        assert selector.observe(current_iter, figures(removal)) is True
    assert torch.load(tmp_path / 'net_g_best.pth')['iter'] == 30

    resumed = CheckpointSelector(SELECT, str(tmp_path), IterationSaver(tmp_path), resume_iter=20)
    record = json.loads((tmp_path / 'selection.json').read_text())  # rewritten at once, before any validation
    assert record['selected'] == resumed.record['selected']
    assert [v['iter'] for v in record['validations']] == [10, 20]
    assert record['selected']['iter'] == 20 and record['selected']['checkpoint'] == 'net_g_best.pth'
    assert record['selected']['reason'].startswith('iteration 20: removal_rate 0.950, meets every goal')
    assert torch.load(tmp_path / 'net_g_best.pth')['iter'] == 20  # a copy of net_g_20.pth
    assert 'iteration 30' in resumed.resume_note and 'net_g_20.pth' in resumed.resume_note
    assert 'net_g_best.pth = iteration 20' in resumed.finish(20)
    assert read_selection(str(tmp_path / 'net_g_best.pth'))['selected']['iter'] == 20

    # the selection of iteration 30 again, but no checkpoint of iteration 20 kept: no file claims its weights
    saver.iter = 30
    saver()
    (tmp_path / 'selection.json').write_text(json.dumps({**record, 'selected': {**record['selected'], 'iter': 30}}))
    (tmp_path / 'net_g_20.pth').unlink()
    resumed = CheckpointSelector(SELECT, str(tmp_path), IterationSaver(tmp_path), resume_iter=20)
    selected = json.loads((tmp_path / 'selection.json').read_text())['selected']
    assert selected['iter'] == 20 and selected['checkpoint'] is None and not (tmp_path / 'net_g_best.pth').exists()
    assert 'no net_g_20 checkpoint was kept' in selected['reason'] and 'net_g_best.pth' in resumed.resume_note
    assert '(not kept) = iteration 20' in resumed.finish(20)
    assert read_selection(str(tmp_path / 'net_g_best.pth')) is None

    # no validation up to the state is eligible: no selection, and no stale net_g_best
    saver()
    failing = [{**v, 'eligible': False, 'meets_goals': False} for v in record['validations']]
    (tmp_path / 'selection.json').write_text(json.dumps({**record, 'validations': failing,
                                                         'selected': {**record['selected'], 'iter': 30}}))
    resumed = CheckpointSelector(SELECT, str(tmp_path), IterationSaver(tmp_path), resume_iter=20)
    assert resumed.record['selected'] is None and not (tmp_path / 'net_g_best.pth').exists()
    assert 'no validation up to iteration 20 is eligible' in resumed.resume_note


def train_with_selection(tmp_path, tiny_dataset, name, val_opt):
    """desra/train.py's 6-iteration tiny run validated on two photo crops with ``val: val_opt``; its models/."""
    write_photo_images(tmp_path)
    option_file = write_options(tmp_path, tiny_dataset, name, TINY_RRDB_OPT)
    opt = yaml.safe_load(option_file.read_text())
    opt['datasets']['val'] = {'name': 'val', 'type': 'SingleImageDataset', 'dataroot_lq': str(tmp_path / 'lq'),
                              'dataroot_mse': str(tmp_path / 'mse'), 'io_backend': {'type': 'disk'}}
    opt['val'] = val_opt
    option_file.write_text(yaml.safe_dump(opt))
    assert run_train(tmp_path, option_file) == 0
    return tmp_path / 'experiments' / name / 'models'


def test_training_with_selection_keeps_the_selected_generator_and_its_record(tmp_path, tiny_dataset):
    models = train_with_selection(tmp_path, tiny_dataset, 'select', {
        'val_freq': 2, 'detector': {'window_size': 5, 'min_area': 1, 'threshold': 0.3, 'segmenter': {'type': 'none'}},
        'select': {'retention_min': 0.0, 'niqe_gap_max': None, 'patience': 0}})
    record = json.loads((models / 'selection.json').read_text())
    assert [v['iter'] for v in record['validations']] == [2, 4, 6]
    assert record['images'] == ['a', 'b']
    selected = record['selected']
    assert selected['selected_by'] == 'validation' and selected['checkpoint'] == 'net_g_best.pth'
    best = torch.load(models / 'net_g_best.pth', weights_only=True)
    assert set(best) == {'params', 'params_ema'}
    if selected['iter'] == 6:  # the last validation: the same weights as the last checkpoint
        latest = torch.load(models / 'net_g_latest.pth', weights_only=True)
        assert all(torch.equal(best['params_ema'][k], latest['params_ema'][k]) for k in latest['params_ema'])
    assert read_selection(str(models / 'net_g_best.pth'))['selected']['iter'] == selected['iter']
    assert read_selection(str(models / 'net_g_latest.pth')) is None


def test_selection_thresholds_never_met_in_training_keep_the_last_checkpoint(tmp_path, tiny_dataset):
    models = train_with_selection(tmp_path, tiny_dataset, 'unmet', {
        'val_freq': 3, 'detector': {'window_size': 5, 'min_area': 1, 'segmenter': {'type': 'none'}},
        'select': {'retention_min': 2.0, 'patience': 1}})  # twice the original's detail: never met
    record = json.loads((models / 'selection.json').read_text())
    assert record['stopped_early'].startswith('the last 1 validation(s) failed the thresholds (retention_min')
    assert [v['iter'] for v in record['validations']] == [3]  # stopped at the first validation
    assert record['selected'] == {'iter': 3, 'checkpoint': 'net_g_best.pth', 'selected_by': 'last checkpoint',
                                  'reason': pytest.approx(record['selected']['reason'])}
    best, latest = (torch.load(models / name, weights_only=True) for name in ('net_g_best.pth', 'net_g_latest.pth'))
    assert all(torch.equal(best['params'][k], latest['params'][k]) for k in latest['params'])


def test_validation_images_are_read_from_a_split_of_a_yaml_mapping(tmp_path):
    write_random_images(str(tmp_path / 'lr'), ('a', 'b', 'sub/c'))
    (tmp_path / 'splits.yml').write_text('validation: [sub/c, a]\nheldout: [b]\n')
    opt = {'name': 'val', 'dataroot_lq': str(tmp_path / 'lr'), 'io_backend': {'type': 'disk'},
           'meta_info_file': str(tmp_path / 'splits.yml'), 'meta_info_key': 'validation'}
    dataset = ListedLRDataset(copy.deepcopy(opt))  # basicsr pops io_backend:type when it reads
    assert [str(tmp_path / 'lr' / name) for name in ('sub/c.png', 'a.png')] == dataset.paths  # the list's order
    assert dataset[0]['lq'].shape == (3, 12, 14) and dataset.opt['meta_info_key'] == 'validation'
    assert len(ListedLRDataset({key: copy.deepcopy(value) for key, value in opt.items()
                                if key != 'meta_info_file'})) == 3
    (tmp_path / 'splits.yml').write_text('validation: [a, missing]\n')
    with pytest.raises(ValueError, match='splits.yml: no LR image in .* for missing'):
        ListedLRDataset(opt)
