"""scripts/ablate_finetune.py: the figures of a run, the demo's goals and the markdown table, on hand-made records."""
import importlib.util
import math
import os

import pytest

from tests.conftest import REPO_ROOT

_SPEC = importlib.util.spec_from_file_location('ablate_finetune', os.path.join(REPO_ROOT, 'scripts',
                                                                               'ablate_finetune.py'))
ablate_finetune = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ablate_finetune)


def realism(niqe_gan, niqe_finetuned, retention, verdict):
    return {'niqe_gan': niqe_gan, 'niqe_mse': 8.0, 'niqe_finetuned': niqe_finetuned, 'detail_retention': retention,
            'realism': verdict}


def test_run_figures_average_the_images_and_check_every_goal():
    summary = {'removal_rate': 0.9, 'addition_rate': 0.05}
    kept = ablate_finetune.run_figures(summary, {'a': realism(5.0, 5.2, 0.9, 'kept'),
                                                 'b': realism(7.0, 7.6, 0.85, 'kept')}, 12.0)
    assert kept['niqe_finetuned'] == pytest.approx(6.4) and kept['niqe_gan'] == pytest.approx(6.0)
    assert kept['detail_retention'] == pytest.approx(0.875) and kept['retention_min'] == 0.85
    assert kept['verdict'] == 'kept' and kept['goals']
    # one image below 0.8 retention fails the goals and sets the worst verdict; NaN NIQE is left out of the means
    soft = ablate_finetune.run_figures(summary, {'a': realism(5.0, 5.2, 0.9, 'kept'),
                                                 'b': realism(math.nan, math.nan, 0.5, 'softened')}, 12.0)
    assert soft['niqe_finetuned'] == pytest.approx(5.2) and soft['verdict'] == 'softened' and not soft['goals']
    assert not ablate_finetune.run_figures({'removal_rate': 0.7, 'addition_rate': 0.0},
                                           {'a': realism(5.0, 5.0, 1.0, 'kept')}, 1.0)['goals']


def test_table_has_a_line_per_run_and_a_mean_per_variant():
    summary = {'removal_rate': 1.0, 'addition_rate': 0.0}
    records = [{'variant': 'original (not fine-tuned)', 'seed': '-',
                **ablate_finetune.run_figures({'removal_rate': 0.0, 'addition_rate': 0.0},
                                              {'a': realism(5.0, 5.0, 1.0, 'kept')}, 0.0)}]
    for seed, retention in ((0, 0.9), (1, 0.7)):
        records.append({'variant': 'consistent', 'seed': seed,
                        **ablate_finetune.run_figures(summary, {'a': realism(5.0, 5.1, retention, 'kept')}, 10.0)})
    lines = ablate_finetune.table(records).splitlines()
    assert len(lines) == 2 + 3 + 1
    assert lines[-1].startswith('| **consistent** (mean) | 0,1 | 1.000 | 0.000 | 5.00 |')
    assert '| 0.80 | 0.80 | kept | 1/2 | 10 |' in lines[-1]
