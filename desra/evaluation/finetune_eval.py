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
* ``records/<img>.json``: the image's figures; written last, so a rerun skips images that have one, unless it was
  made with other options or inputs (``made_with``, see :mod:`desra.detection.stage_one_run`);
* ``finetune_eval.csv``: one line per image (:data:`CSV_FIELDS`);
* ``finetune_eval.json``: ``summary`` (totals, :func:`~desra.metrics.finetune_metrics.summarize_finetune`, and
  realism figures, :func:`~desra.metrics.realism.summarize_realism`), ``images`` (the CSV lines) and ``failures``;
  undefined or infinite numbers are ``null``;
* ``index.html`` (and ``page-2.html``, ...) and ``report/``: the visual report, worst first, with the adjusted
  contrast maps, the difference map ``|original - fine-tuned|``, a slider between the two results (their plain
  pictures in ``report/gan/`` and ``report/finetuned/``) and crops of each artifact part before / after / MSE-SR /
  LR.
"""
import json
import os

from desra.detection.outputs import (DetectionOutputs, detect_pair, load_sr_images, map_figures, mask_figures,
                                     part_records)
from desra.detection.stage_one_run import StageOneRun
from desra.evaluation.summary import removal_warning, summary_text
from desra.io.images import write_text
from desra.io.records import csv_text, json_ready
from desra.metrics.finetune_metrics import TEXTURE_FIELDS, FinetuneImageScore, score_finetune, summarize_finetune
from desra.metrics.realism import REALISM_FIELDS, format_figure, realism_options, score_realism, summarize_realism
from desra.report import (Comparison, ReportPictures, ReportRow, colour_scales_svg, difference_map, measure_parts,
                          severity_fact, strength_map, summary_table, write_report)
from desra.report.blocks import (HEAT_NOTE, HEAT_TITLE, TEXTURE_KEY, TEXTURE_TITLE, class_block, part_views,
                                 threshold_block)
from desra.report.views import DIFF_FULL_SCALE
from desra.training.selection import read_selection

#: Columns of ``finetune_eval.csv``.
CSV_FIELDS = ('image', 'height', 'width', 'before_pixels', 'before_percent', 'after_pixels', 'after_percent',
              'before_parts', 'after_parts', 'removed_pixels', 'added_pixels', 'removal_rate', 'addition_rate',
              'outside_pixels', 'psnr_outside', 'ssim_outside') + TEXTURE_FIELDS + REALISM_FIELDS
#: Crop labels and titles of the report, in display order (the first two on a part's card).
CROP_TITLES = {'before': 'original GAN-SR', 'after': 'fine-tuned GAN-SR', 'mse': 'MSE-SR',
               'lr': 'LR (nearest neighbour)'}
#: Crop labels and titles of the slider in the zoom of a part.
SLIDER_TITLES = {'before_plain': 'original', 'after_plain': 'fine-tuned'}
#: Rows of the report's summary table, the figures ``make demo`` prints: (label, summary key or (before key, after
#: key), format); rows whose keys the summary lacks are left out.
REPORT_SUMMARY_FIELDS = (
    ('images', 'images', '{}'),
    ('images with artifacts', ('images_with_artifacts_before', 'images_with_artifacts_after'), '{}'),
    ('artifact area', ('before_pixels', 'after_pixels'), '{} px'),
    ('artifact area, % of all pixels', ('before_percent', 'after_percent'), '{:.2f} %'),
    ('artifact parts', ('before_parts', 'after_parts'), '{}'),
    ('removal rate (pooled)', 'removal_rate', '{:.3f}'),
    (f'{TEXTURE_TITLE} (pooled)', TEXTURE_KEY, '{:.3f}'),
    ('addition rate (pooled)', 'addition_rate', '{:.3f}'),
    ('PSNR outside the artifacts, mean', 'mean_psnr_outside', '{:.2f} dB'),
    ('SSIM outside the artifacts, mean', 'mean_ssim_outside', '{:.3f}'),
    ('NIQE, mean (lower = more natural)', ('mean_niqe_gan', 'mean_niqe_finetuned'), '{:.2f}'),
    ('NIQE of the MSE-SR, mean', 'mean_niqe_mse', '{:.2f}'),
    ('detail retention outside the artifacts, mean', 'mean_detail_retention', '{:.3f}'),
    ('detail retention, least-kept image', 'min_detail_retention', '{:.3f}'),
    ('detail retention of the MSE-SR, mean', 'mean_mse_detail_retention', '{:.3f}'),
    ('realism verdict', 'realism', '{}'),
)
#: Column titles of the summary table.
REPORT_SUMMARY_COLUMNS = ('before: original GAN', 'after: fine-tuned')


def checkpoint_facts(path):
    """What the evaluation knows of the fine-tuned checkpoint: ``path``, and when a selection of its run chose it
    (:func:`~desra.training.selection.read_selection`) ``iter``, ``selected_by`` and ``reason``."""
    selected = (read_selection(path) or {}).get('selected') or {}
    return {'path': path, **{key: selected[key] for key in ('iter', 'selected_by', 'reason') if key in selected}}


def checkpoint_text(facts):
    """One line: the fine-tuned checkpoint, and which iteration it is when a selection chose it."""
    if 'iter' not in facts:
        return f'fine-tuned checkpoint: {facts["path"]}'
    how = 'selected by validation' if facts['selected_by'] == 'validation' else 'the last checkpoint'
    return f'fine-tuned checkpoint: {facts["path"]}: iteration {facts["iter"]}, {how} ({facts["reason"]})'


class FinetuneEvalRun(StageOneRun):
    """The test command on one rank (see the module docstring for the outputs)."""

    def __init__(self, opt):
        self.realism_opt = realism_options(opt.get('realism'))
        super().__init__(opt, 'test', 'test', ('mse', 'gan', 'finetuned'))
        self.outputs = {role: DetectionOutputs(os.path.join(self.run_root, f'detect_{role}'), self.run_root)
                        for role in ('gan', 'finetuned')}
        self.checkpoint = checkpoint_facts(opt['path']['pretrain_network_finetuned'])
        self.logger.info(checkpoint_text(self.checkpoint))

    def is_done(self, item):
        """Whether the image was finished by an earlier run with the same options and inputs (its record exists, it
        is written last, and its ``made_with`` is current)."""
        return self.record_changes(item) == []

    def detect(self, item, images, role):
        """Stage 1 on (MSE-SR, ``role``'s result): write its outputs; return the result, parts and pictures."""
        result = detect_pair(self.detector, item, images, role)
        outputs = self.outputs[role]
        pictures = outputs.save_maps(item.name, result, images[role], self.pictures)
        pictures['heat'] = self.pictures.heatmap(f'heat_{role}', item.name, result.adjusted, result.mask.shape,
                                                 result.mask)
        pictures['plain'] = self.pictures.image(role, item.name, images[role])
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
                               before.num_parts, after.num_parts, before.contrast, after.contrast)
        realism = score_realism(images['gan'], images['mse'], images['finetuned'], ~(before.mask | after.mask),
                                **self.realism_opt)
        # crops of the original's parts, and of the regions only the fine-tuned result has
        shape = before.mask.shape
        added = after.mask & ~before.mask
        added_parts = measure_parts(added, after.adjusted)
        lr_path, lr = self.lr_picture(item, shape, lq)
        crop_images = dict(before=images['gan'], after=images['finetuned'], mse=images['mse'],
                           **({} if lr is None else {'lr': lr}))
        crop_masks = {'before': before.mask, 'after': after.mask}
        crops = self.pictures.crops(item.name, before_parts[:self.max_parts], crop_images, crop_masks,
                                    strength_map(before.adjusted, shape) * before.mask)
        added_crops = self.pictures.crops(f'{item.name}/added', added_parts[:self.max_parts], crop_images, crop_masks,
                                          strength_map(after.adjusted, shape) * added)
        record = dict(
            image=item.name, score={**score.to_dict(), **realism},
            before=dict(mask_figures(before.mask, before_parts), **map_figures(before)),
            after=dict(mask_figures(after.mask, after_parts), **map_figures(after)),
            part_list=part_records(before_parts, crops),
            added_part_list=part_records(added_parts, added_crops),
            inputs={'lq': item.lq_path, **item.sr_paths},
            pictures={'lr': lr_path,
                      'mse': self.pictures.image('mse', item.name, images['mse']),
                      'diff': self.pictures.image('diff', item.name,
                                                  difference_map(images['gan'], images['finetuned'])),
                      'before': before_pictures, 'after': after_pictures},
            made_with=self.made_with(item))
        write_text(self.record_path(item.name), json.dumps(record, indent=1))

    @staticmethod
    def report_row(record):
        """The row of an image on the report page, sorted by the severity of the original's artifacts."""
        pictures, score = record['pictures'], record['score']
        size = (score['width'], score['height'])

        def panel(src, title, scale=None):
            return ReportPictures.panel(title, src, size, scale) if src else None

        before, after = pictures['before'], pictures['after']
        # in pairs, two a line: before | after with their masks, their maps, slider | difference, LR | MSE-SR
        shown = [panel(before['overlay'], 'original GAN-SR, artifacts outlined'),
                 panel(after['overlay'], 'fine-tuned GAN-SR, artifacts outlined'),
                 panel(before['heat'], f'original: {HEAT_TITLE}', 'heat'),
                 panel(after['heat'], f'fine-tuned: {HEAT_TITLE}', 'heat'),
                 Comparison('original vs fine-tuned', panel(before['plain'], 'original'),
                            panel(after['plain'], 'fine-tuned')) if before.get('plain') and after.get('plain')
                 else None,
                 panel(pictures.get('diff'), f'|original - fine-tuned|, mean over R, G, B (log scale, white: '
                                             f'{DIFF_FULL_SCALE}+ of 255)', 'diff'),
                 panel(pictures['lr'], 'LR (nearest-neighbour x scale)'), panel(pictures['mse'], 'MSE-SR')]
        facts = [severity_fact(record['before']['severity'], record['after']['severity']),
                 ('artifact pixels before', f'{score["before_pixels"]} ({score["before_percent"]:.3g} %)'),
                 ('after', f'{score["after_pixels"]} ({score["after_percent"]:.3g} %)'),
                 ('parts before / after', f'{score["before_parts"]} / {score["after_parts"]}'),
                 ('removal rate', score['removal_rate']), ('addition rate', score['addition_rate']),
                 ('PSNR outside (dB)', score['psnr_outside']), ('SSIM outside', score['ssim_outside']),
                 ('NIQE GAN / MSE / fine-tuned', ' / '.join(
                     format_figure(score.get(f'niqe_{role}'), 2) for role in ('gan', 'mse', 'finetuned'))),
                 ('detail retention (MSE-SR\'s)', f'{format_figure(score.get("detail_retention"))} '
                                                  f'({format_figure(score.get("mse_detail_retention"))})'),
                 ('realism', score.get('realism', 'n/a'))]
        if score.get(TEXTURE_KEY) is not None:
            facts.append((TEXTURE_TITLE, score[TEXTURE_KEY]))
        parts = (part_views(record['part_list'], CROP_TITLES, compare=SLIDER_TITLES)
                 + part_views(record['added_part_list'], CROP_TITLES, 'added region', SLIDER_TITLES))
        return ReportRow(record['image'], record['before']['severity'], facts, [item for item in shown if item],
                         parts)

    def write_run_outputs(self, failures):
        """Write ``finetune_eval.csv``, ``finetune_eval.json`` and ``index.html`` from the records on disk."""
        records = self.read_records(failures)
        scores = [FinetuneImageScore.from_dict(record['score']) for record in records]
        rows = [record['score'] for record in records]
        summary = {**summarize_finetune(scores), **summarize_realism(rows)}
        write_text(os.path.join(self.run_root, 'finetune_eval.csv'), csv_text(CSV_FIELDS, rows))
        write_text(os.path.join(self.run_root, 'finetune_eval.json'), json.dumps(json_ready(
            {'summary': summary, 'images': rows, 'failures': [str(failure) for failure in failures],
             'checkpoint': self.checkpoint}), indent=1))
        self.logger.info('fine-tuning evaluation:\n' + checkpoint_text(self.checkpoint) + '\n'
                         + summary_text(json_ready(summary), json_ready(rows)))
        notes = ['Each row, in pairs: the original and the fine-tuned GAN-SR results with their detected artifacts '
                 'outlined in red; their semantics-adjusted contrast maps (the maps the masks are thresholded on); a '
                 'slider between the two results beside their difference (mean over R, G, B on a log scale, its '
                 f'colour bar in 0..255 units: black = unchanged, white = {DIFF_FULL_SCALE} or more); the LR input '
                 'and the MSE-SR result. Each artifact part of the original, then each region that only the '
                 'fine-tuned result has ("added region"): its original and fine-tuned crops side by side; its zoom '
                 'adds the MSE-SR and LR crops and a slider.', HEAT_NOTE,
                 'Removal rate = share of the original\'s artifact pixels not in the fine-tuned result\'s mask. '
                 'Addition rate = fine-tuned artifact pixels outside the original\'s mask, relative to the '
                 'original\'s artifact area (n/a when the original has no artifact). Texture-difference reduction = '
                 '1 - mean D after / mean D before inside the original\'s artifact mask, D = 1 - c the contrast map '
                 'against the MSE-SR (0 = unchanged, 1 = the MSE-SR\'s texture; not thresholded, so a pattern made '
                 'fainter but still there counts only in part). PSNR / SSIM outside: original vs fine-tuned result on '
                 'the pixels outside both masks.',
                 'Realism: NIQE of each result (basicsr, lower = more natural; n/a under 192x96 px). Detail '
                 'retention = mean |Laplacian| of the fine-tuned result / the original\'s, outside both masks (the '
                 'MSE-SR\'s own ratio in brackets). Verdict: softened when retention < '
                 f'{self.realism_opt["min_retention"]} or NIQE rose by more than {self.realism_opt["niqe_margin"]}; '
                 'collapsed when it also fell to the MSE-SR\'s detail or NIQE; kept otherwise.',
                 f'Detector options: {json.dumps(self.opt["detector"])}']
        threshold = self.detector.opt['threshold']
        figure_sets = {'original GAN-SR': [record['before'] for record in records],
                       'fine-tuned GAN-SR': [record['after'] for record in records]}
        notes.insert(0, checkpoint_text(self.checkpoint))
        header = [('Summary', summary_table(summary, REPORT_SUMMARY_FIELDS, REPORT_SUMMARY_COLUMNS)),
                  threshold_block(figure_sets, threshold), class_block(figure_sets)]
        warnings = self.misuse_warnings + [warning for warning in [removal_warning(json_ready(summary))] if warning]
        write_report(os.path.join(self.run_root, 'index.html'), f'DeSRA fine-tuning evaluation: {self.opt["name"]}',
                     [self.report_row(record) for record in records], header=[block for block in header if block],
                     scales=colour_scales_svg(threshold), notes=notes, failures=failures, warnings=warnings,
                     rows_per_page=self.rows_per_page)
