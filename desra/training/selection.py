"""Checkpoint selection from validation (``val: select:``): which generator of a fine-tuning run to keep, and when to
stop.

Every validation measures, on images that are not the held-out test images, what the test command measures
(:mod:`desra.models.artifact_validation`): the pooled removal and addition rates and the texture-difference
reduction against the original GAN, the mean NIQE of the current and the original results and the lowest detail
retention of any image. The options (``val: select:``; every threshold may be ``~``, not checked)::

    select:
      retention_min: 0.85        # realism: detail retention of every validation image >= this
      niqe_gap_max: 0.3          # realism: mean NIQE current - mean NIQE original GAN <= this
      addition_max: 0.05         # no new artifacts: pooled addition rate <= this
      removal_min: 0.85          # goals: pooled removal rate >= this ...
      texture_reduction_min: 0.5 # ... and texture-difference reduction >= this
      metric: removal_rate       # what "most removal" means: removal_rate or texture_reduction
      patience: 2                # early stop after this many validations in a row that fail realism, or that do
                                 # not raise the metric above its best so far (0: never stop early)

A validation is *eligible* when it meets the realism thresholds and ``addition_max``. The selected checkpoint is
the eligible validation that meets the goals with the highest metric, else (no eligible validation meets them) the
eligible one with the highest metric; ties go to the earlier iteration. Each time the selection changes, the
validated generator is written as ``models/net_g_best.pth`` (``params`` and ``params_ema``, atomically). When no
validation is eligible, the run says so at its end and ``net_g_best.pth`` is the last checkpoint (the same weights as
``net_g_latest.pth``), so that the file always holds a generator and says by its record which one.

A resumed run reads back the validations up to its state (those after it are trained and validated again). When
the recorded selection came after the state, the selection is made again among them, by the same rule, and
``net_g_best.pth`` is made to hold its weights: a copy of that iteration's checkpoint ``net_g_<iter>.pth`` (written
by ``logger: save_checkpoint_freq``; atomically); when that checkpoint was not kept, ``net_g_best.pth`` is removed
and the selection's ``checkpoint`` is null, its ``reason`` and the log saying why, so that no file claims weights it
does not hold (a later selection writes it again).

The record ``models/selection.json`` (rewritten atomically after every validation): ``select`` (the options),
``validations`` (per validation: ``iter``, the figures, ``per_image``, ``eligible``, ``meets_goals``, ``failed``:
the thresholds it missed, and ``metric``), ``selected`` (``iter``, ``checkpoint``, ``selected_by``: ``validation``
or ``last checkpoint``, and ``reason``, a sentence), ``images`` (the validation images, which the test command
refuses to evaluate on) and ``stopped_early`` (the reason, or null).
"""
import json
import math
import os
import shutil

from desra.io.images import atomic_output, write_text
from desra.io.records import json_ready
from desra.weights.checkpoint import CHECKPOINT_FORMATS

#: ``val: select:`` keys and their defaults.
SELECT_DEFAULTS = {'retention_min': None, 'niqe_gap_max': None, 'addition_max': None, 'removal_min': None,
                   'texture_reduction_min': None, 'metric': 'removal_rate', 'patience': 0}
#: The file names of the selection in ``path:models``.
BEST_LABEL, RECORD_NAME = 'best', 'selection.json'


def _number(value):
    """A figure as a float; None, ``n/a`` and NaN as NaN."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def judge(figures, opt):
    """Which thresholds of ``opt`` a validation's ``figures`` miss.

    Args:
        figures (dict): What :meth:`~desra.models.artifact_validation.ArtifactAreaValidator.validate` returns.
        opt (dict): The ``select`` options (:data:`SELECT_DEFAULTS`).

    Returns:
        tuple[list[str], list[str]]: The missed eligibility thresholds (realism, addition) and the missed goals
        (removal, texture), each as ``'key: figure vs threshold'``; an undefined figure misses its threshold.
    """
    gap = _number(figures.get('mean_niqe_finetuned')) - _number(figures.get('mean_niqe_gan'))
    checks = [('retention_min', _number(figures.get('min_detail_retention')), True),
              ('niqe_gap_max', gap, False), ('addition_max', _number(figures.get('addition_rate')), False),
              ('removal_min', _number(figures.get('removal_rate')), True),
              ('texture_reduction_min', _number(figures.get('texture_reduction')), True)]
    missed = []
    for key, value, at_least in checks:
        threshold = opt[key]
        if threshold is not None and (math.isnan(value) or (value < threshold if at_least else value > threshold)):
            missed.append(f'{key}: {"n/a" if math.isnan(value) else f"{value:.3f}"} vs {threshold}')
    goals = [text for text in missed if text.startswith(('removal_min', 'texture_reduction_min'))]
    return [text for text in missed if text not in goals], goals


class CheckpointSelector:
    """Follows the validations of a run, keeps the selected generator and decides on early stopping (module
    docstring).

    Args:
        select_opt (dict | None): ``val: select:`` (None: no selection).
        models_dir (str): ``path:models``, where ``net_g_best.pth`` and ``selection.json`` go.
        save_best (callable): ``save_best()`` writes the generator being validated as ``net_g_best``; returns its
            file name.
        resume_iter (int | None): When resuming: the iteration of the state, whose earlier validations are read
            back from ``selection.json``; None for a fresh run (an earlier record is replaced).
    The options are checked by the option schema (:data:`desra.config.schema.SELECT`).

    Attributes:
        resume_note (str | None): When resuming dropped a selection made after the state: what was selected
            instead and what ``net_g_best`` now holds, a sentence for the log (:meth:`reselect`); else None.
    """

    def __init__(self, select_opt, models_dir, save_best, resume_iter=None):
        self.opt = {**SELECT_DEFAULTS, **(select_opt or {})}
        self.models_dir, self.save_best = models_dir, save_best
        self.path = os.path.join(models_dir, RECORD_NAME)
        self.record = {'select': self.opt, 'validations': [], 'selected': None, 'images': [], 'stopped_early': None}
        self.resume_note = None
        if resume_iter is not None and os.path.isfile(self.path):
            with open(self.path, encoding='utf-8') as f:
                earlier = json.load(f)
            selected = earlier.get('selected')
            # what was validated after the state is validated again (the same figures: resuming is exact on the CPU)
            self.record.update(images=earlier.get('images', []),
                               validations=[v for v in earlier.get('validations', []) if v['iter'] <= resume_iter])
            if selected and selected['iter'] <= resume_iter:
                self.record['selected'] = selected
            elif selected:
                self.resume_note = self.reselect(selected, resume_iter)

    def rank(self, validation):
        """The sort key of an eligible validation: goals met first, then the metric, then the earlier iteration."""
        metric = _number(validation[self.opt['metric']])
        return (validation['meets_goals'], -math.inf if math.isnan(metric) else metric, -validation['iter'])

    def best(self):
        """The selected validation among those recorded (None when no validation is eligible)."""
        eligible = [validation for validation in self.record['validations'] if validation['eligible']]
        return max(eligible, key=self.rank) if eligible else None

    def selection(self, validation, checkpoint):
        """The ``selected`` entry of the record for an eligible ``validation`` whose weights are in ``checkpoint``
        (a file name in ``models_dir``, or None when they were not kept)."""
        goals = 'meets every goal' if validation['meets_goals'] else (
            'the highest within realism, but it misses ' + ', '.join(validation['failed']))
        return {'iter': validation['iter'], 'checkpoint': checkpoint, 'selected_by': 'validation',
                'reason': f'iteration {validation["iter"]}: {self.opt["metric"]} '
                          f'{_number(validation[self.opt["metric"]]):.3f}, {goals}'}

    def reselect(self, stale, resume_iter):
        """On resume from ``resume_iter``, the recorded selection ``stale`` came after it: select again among the
        validations read back (:meth:`best`) and make ``net_g_best`` hold that iteration's weights, copied from its
        checkpoint ``net_g_<iter>.<pth|safetensors>`` atomically, or, when that was not kept, remove the stale
        ``net_g_best`` (module docstring). The record is written first with no checkpoint, then again when the
        copy is in place: an interruption never leaves it naming a file with other weights.

        Returns:
            str: What was done, a sentence for the log.
        """
        stale_file = stale.get('checkpoint')
        dropped = f'resuming from iteration {resume_iter}: the selection of iteration {stale["iter"]} came after it'
        best = self.best()
        self.record['selected'] = None if best is None else self.selection(best, None)
        if best is not None:
            sources = [f'net_g_{best["iter"]}.{fmt}' for fmt in CHECKPOINT_FORMATS]
            source = next((name for name in sources if os.path.isfile(os.path.join(self.models_dir, name))), None)
            if source is None:
                self.record['selected']['reason'] += (f' (no net_g_{best["iter"]} checkpoint was kept, '
                                                      'logger:save_checkpoint_freq: no file holds its weights)')
        self.write()
        removed = ''
        if stale_file and os.path.isfile(os.path.join(self.models_dir, stale_file)):
            os.remove(os.path.join(self.models_dir, stale_file))
            removed = f'; {stale_file}, which held its weights, is removed'
        if best is None:
            return f'{dropped}, and no validation up to iteration {resume_iter} is eligible: none is selected{removed}'
        if source is None:
            return (f'{dropped}; selected instead: iteration {best["iter"]}, whose weights were not kept (no '
                    f'{" or ".join(sources)} in {self.models_dir}){removed}')
        target = f'net_g_{BEST_LABEL}{os.path.splitext(source)[1]}'
        with atomic_output(os.path.join(self.models_dir, target)) as tmp_path:
            shutil.copyfile(os.path.join(self.models_dir, source), tmp_path)
        self.record['selected']['checkpoint'] = target
        self.write()
        return f'{dropped}; selected instead: iteration {best["iter"]}, {target} copied from {source}'

    def observe(self, current_iter, figures):
        """Record a validation; write ``net_g_best`` when it becomes the selection, then the record.

        Returns:
            bool: Whether this validation is now the selected one.
        """
        missed, missed_goals = judge(figures, self.opt)
        validation = {'iter': current_iter, **{key: value for key, value in figures.items() if key != 'images'},
                      'eligible': not missed, 'meets_goals': not missed and not missed_goals,
                      'failed': missed + missed_goals}
        self.record['images'] = sorted(set(self.record['images']) | set(figures.get('images', [])))
        self.record['validations'].append(validation)
        selected = self.best() is validation
        if selected:
            self.record['selected'] = self.selection(validation, self.save_best())
        self.write()
        return selected

    def stop_reason(self):
        """Why the run should stop now (a sentence), or None: ``patience`` validations in a row failed the realism
        thresholds, or did not raise the metric above its best before them."""
        patience, validations = self.opt['patience'], self.record['validations']
        if not patience or len(validations) < patience:
            return None
        recent, earlier = validations[-patience:], validations[:-patience]
        if not any(validation['eligible'] for validation in recent):
            return f'the last {patience} validation(s) failed the thresholds ({recent[-1]["failed"][0]})'
        metric = self.opt['metric']
        best_before = max((_number(v[metric]) for v in earlier if not math.isnan(_number(v[metric]))), default=None)
        if best_before is not None and all(not _number(v[metric]) > best_before for v in recent):
            return f'{metric} did not rise above {best_before:.3f} in the last {patience} validation(s)'
        return None

    def stop_early(self, reason):
        """Note in the record that the run stops early, and why."""
        self.record['stopped_early'] = reason
        self.write()

    def finish(self, last_iter):
        """At the end of the run: when no validation was eligible, keep the last checkpoint as ``net_g_best``.

        Returns:
            str: What was selected, a sentence for the log.
        """
        selected = self.record['selected']
        if selected is None:
            failed = '; '.join(self.record['validations'][-1]['failed']) if self.record['validations'] else ''
            selected = {'iter': last_iter, 'checkpoint': self.save_best(), 'selected_by': 'last checkpoint',
                        'reason': f'no validation met the thresholds of val:select (the last: {failed or "none"}): '
                                  f'{BEST_LABEL} is the last checkpoint, iteration {last_iter}'}
            self.record['selected'] = selected
        self.write()
        return (f'selected checkpoint: {selected["checkpoint"] or "(not kept)"} = {selected["reason"]} '
                f'(record: {self.path})')

    def write(self):
        write_text(self.path, json.dumps(json_ready(self.record), indent=1))


def read_record(checkpoint_path):
    """The selection record (``selection.json``) in the folder of ``checkpoint_path``, whichever checkpoint of the
    run it is.

    Returns:
        tuple[str, dict] | tuple[None, None]: The record's path and contents; (None, None) when there is none.
    """
    record_path = os.path.join(os.path.dirname(os.path.abspath(os.path.expanduser(checkpoint_path))), RECORD_NAME)
    if not os.path.isfile(record_path):
        return None, None
    with open(record_path, encoding='utf-8') as f:
        return record_path, json.load(f)


def read_selection(checkpoint_path):
    """The selection record of ``checkpoint_path`` when it is the run's selected checkpoint (``net_g_best``), else
    None."""
    _, record = read_record(checkpoint_path)
    selected = (record or {}).get('selected') or {}
    return record if selected.get('checkpoint') == os.path.basename(checkpoint_path) else None
