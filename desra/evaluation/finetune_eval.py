"""The test command: judge a fine-tuned GAN model with DeSRA's detector on held-out LR images.

For every LR image of ``datasets.test`` the original GAN model (``network_gan``), the fine-tuned one
(``network_finetuned``) and the MSE model (``network_mse``) are run (results cached as PNG), Stage 1 is run on
(MSE-SR, original GAN-SR) for the *before* mask and on (MSE-SR, fine-tuned GAN-SR) for the *after* mask with the same
``detector`` options, and the two are compared (:mod:`desra.metrics.finetune_metrics`). The same three results and
the pixels outside both masks give the realism figures (:mod:`desra.metrics.realism`: NIQE of each result, detail
retention outside the masks and the collapse verdict, with the thresholds of the ``realism:`` options block).

Outputs under the run folder (``<img>`` = the image's relative path without extension):

* ``sr_mse/``, ``sr_gan/``, ``sr_finetuned/``: the SR results (``<img>.png``), reused by reruns;
* ``detect_gan/``, ``detect_finetuned/``: ``masks/``, ``contrast/``, ``adjusted/``, ``seg/``, ``overlays/`` of
  each result, as the detect command writes them;
* ``records/<img>.json``: the image's figures; written last, so a rerun skips images that have one;
* ``finetune_eval.csv``: one line per image (:data:`CSV_FIELDS`);
* ``finetune_eval.json``: ``summary`` (totals, :func:`~desra.metrics.finetune_metrics.summarize_finetune`, and
  realism figures, :func:`~desra.metrics.realism.summarize_realism`), ``images`` (the CSV lines) and ``failures``;
  undefined or infinite numbers are ``null``;
* ``index.html`` and ``report/``: the visual report, with crops of each artifact part before / after / MSE-SR.
"""
import json
import math
import os

from desra.detection.runner import (DetectionOutputs, StageOneRun, csv_text, detect_pair, load_sr_images,
                                    mask_figures, part_records, part_views)
from desra.metrics.finetune_metrics import FinetuneImageScore, score_finetune, summarize_finetune
from desra.metrics.realism import (REALISM_FIELDS, format_figure, realism_options, score_realism,
                                   summarize_realism)
from desra.report import Panel, ReportRow, measure_parts, write_report
from desra.utils.img_io import write_text

#: Columns of ``finetune_eval.csv``.
CSV_FIELDS = ('image', 'height', 'width', 'before_pixels', 'before_percent', 'after_pixels', 'after_percent',
              'before_parts', 'after_parts', 'removed_pixels', 'added_pixels', 'removal_rate', 'addition_rate',
              'outside_pixels', 'psnr_outside', 'ssim_outside') + REALISM_FIELDS
#: Crop labels and titles of the report.
CROP_TITLES = {'before': 'original GAN-SR', 'after': 'fine-tuned GAN-SR', 'mse': 'MSE-SR'}


def json_ready(value):
    """``value`` with every NaN or infinite float (nested in dicts and lists) replaced by None (JSON ``null``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


class FinetuneEvalRun(StageOneRun):
    """The test command on one rank (see the module docstring for the outputs)."""

    def __init__(self, opt):
        self.realism_opt = realism_options(opt.get('realism'))
        super().__init__(opt, 'test', 'test', ('mse', 'gan', 'finetuned'))
        self.outputs = {role: DetectionOutputs(os.path.join(self.run_root, f'detect_{role}'), self.run_root)
                        for role in ('gan', 'finetuned')}

    def is_done(self, item):
        """Whether the image was finished by an earlier run (its record exists; it is written last)."""
        return os.path.isfile(self.record_path(item.name))

    def detect(self, item, images, role):
        """Stage 1 on (MSE-SR, ``role``'s result): write its outputs; return the result, parts and pictures."""
        result = detect_pair(self.detector, item, images, role)
        outputs = self.outputs[role]
        pictures = outputs.save_maps(item.name, result, images[role])
        pictures['heat'] = self.pictures.heatmap(f'heat_{role}', item.name, result.contrast, result.mask.shape)
        outputs.save_mask(item.name, result.mask)
        return result, measure_parts(result.mask, result.adjusted), pictures

    def process(self, item):
        """Run the three models on one image, detect before / after, score, and write the record last.

        Raises:
            ValueError: The image cannot be used (unreadable, sizes differ, too small); the message names its files.
        """
        lq = self.make_sr_results(item)
        images = load_sr_images(item, ('mse', 'gan', 'finetuned'))
        before, before_parts, before_pictures = self.detect(item, images, 'gan')
        after, after_parts, after_pictures = self.detect(item, images, 'finetuned')
        score = score_finetune(item.name, before.mask, after.mask, images['gan'], images['finetuned'],
                               before.num_parts, after.num_parts)
        realism = score_realism(images['gan'], images['mse'], images['finetuned'], ~(before.mask | after.mask),
                                **self.realism_opt)
        # crops of the original's parts, and of the regions only the fine-tuned result has
        added_parts = measure_parts(after.mask & ~before.mask, after.adjusted)
        crop_images = {'before': images['gan'], 'after': images['finetuned'], 'mse': images['mse']}
        crop_masks = {'before': before.mask, 'after': after.mask}
        crops = self.pictures.crops(item.name, before_parts[:self.max_parts], crop_images, crop_masks)
        added_crops = self.pictures.crops(f'{item.name}/added', added_parts[:self.max_parts], crop_images, crop_masks)
        shape = before.mask.shape
        record = dict(
            image=item.name, score={**score.to_dict(), **realism}, before=mask_figures(before.mask, before_parts),
            after=mask_figures(after.mask, after_parts), part_list=part_records(before_parts, crops),
            added_part_list=part_records(added_parts, added_crops),
            inputs={'lq': item.lq_path, **item.sr_paths},
            pictures={'lr': self.lr_picture(item, shape, lq),
                      'mse': self.pictures.image('mse', item.name, images['mse']),
                      'before': before_pictures, 'after': after_pictures})
        write_text(self.record_path(item.name), json.dumps(record, indent=1))

    def report_row(self, record):
        """The row of an image on the report page, sorted by the severity of the original's artifacts."""
        pictures, score = record['pictures'], record['score']
        panels = [Panel('LR (nearest-neighbour x scale)', pictures['lr'])] if pictures['lr'] else []
        panels += [Panel('MSE-SR', pictures['mse']),
                   Panel('original GAN-SR, artifacts outlined', pictures['before']['overlay']),
                   Panel('original: contrast c (red = low)', pictures['before']['heat']),
                   Panel('fine-tuned GAN-SR, artifacts outlined', pictures['after']['overlay']),
                   Panel('fine-tuned: contrast c (red = low)', pictures['after']['heat'])]
        facts = [('artifact pixels before', f'{score["before_pixels"]} ({score["before_percent"]:.3g} %)'),
                 ('after', f'{score["after_pixels"]} ({score["after_percent"]:.3g} %)'),
                 ('parts before / after', f'{score["before_parts"]} / {score["after_parts"]}'),
                 ('removal rate', score['removal_rate']), ('addition rate', score['addition_rate']),
                 ('PSNR outside (dB)', score['psnr_outside']), ('SSIM outside', score['ssim_outside']),
                 ('NIQE GAN / MSE / fine-tuned', ' / '.join(
                     format_figure(score.get(f'niqe_{role}'), 2) for role in ('gan', 'mse', 'finetuned'))),
                 ('detail retention (MSE-SR\'s)', f'{format_figure(score.get("detail_retention"))} '
                                                  f'({format_figure(score.get("mse_detail_retention"))})'),
                 ('realism', score.get('realism', 'n/a'))]
        added_titles = {label: CROP_TITLES[label] for label in ('after', 'before', 'mse')}  # thumbnail: after
        parts = part_views(record['part_list'], CROP_TITLES) + part_views(record['added_part_list'], added_titles,
                                                                          'added region')
        return ReportRow(record['image'], record['before']['severity'], facts, panels, parts)

    def write_run_outputs(self, failures):
        """Write ``finetune_eval.csv``, ``finetune_eval.json`` and ``index.html`` from the records on disk."""
        records = self.read_records(failures)
        scores = [FinetuneImageScore.from_dict(record['score']) for record in records]
        rows = [record['score'] for record in records]
        summary = {**summarize_finetune(scores), **summarize_realism(rows)}
        write_text(os.path.join(self.run_root, 'finetune_eval.csv'), csv_text(CSV_FIELDS, rows))
        write_text(os.path.join(self.run_root, 'finetune_eval.json'), json.dumps(json_ready(
            {'summary': summary, 'images': rows, 'failures': [str(failure) for failure in failures]}), indent=1))
        self.logger.info('fine-tuning evaluation:\n' + '\n'.join(f'  {key}: {value}' for key, value in summary.items()))
        notes = ['Each row: the LR input, the MSE-SR result, the original and the fine-tuned GAN-SR results with '
                 'their detected artifacts outlined in red, and their contrast maps c. Crops: original / '
                 'fine-tuned / MSE-SR around each artifact part of the original, then around each region that '
                 'only the fine-tuned result has ("added region").',
                 'Removal rate = share of the original\'s artifact pixels not in the fine-tuned result\'s mask. '
                 'Addition rate = fine-tuned artifact pixels outside the original\'s mask, relative to the '
                 'original\'s artifact area (n/a when the original has no artifact). PSNR / SSIM outside: original '
                 'vs fine-tuned result on the pixels outside both masks.',
                 'Realism: NIQE of each result (basicsr, lower = more natural; n/a under 192x96 px). Detail '
                 'retention = mean |Laplacian| of the fine-tuned result / the original\'s, outside both masks (the '
                 'MSE-SR\'s own ratio in brackets). Verdict: softened when retention < '
                 f'{self.realism_opt["min_retention"]} or NIQE rose by more than {self.realism_opt["niqe_margin"]}; '
                 'collapsed when it also fell to the MSE-SR\'s detail or NIQE; kept otherwise.',
                 f'Detector options: {json.dumps(self.opt["detector"])}']
        write_report(os.path.join(self.run_root, 'index.html'), f'DeSRA fine-tuning evaluation: {self.opt["name"]}',
                     [self.report_row(record) for record in records],
                     [(key.replace('_', ' '), value) for key, value in summary.items()], notes, failures)
