"""The detect command's run: DeSRA's Stage 1 over a set of images, with masks, maps, a summary and a visual report.

Outputs under the run folder ``<results_root>/<name>/`` (``<img>`` = the image's relative path without extension):

* ``masks/``, ``contrast/``, ``adjusted/``, ``seg/``, ``overlays/``: each image's mask and maps
  (:mod:`desra.detection.outputs`);
* ``records/<img>.json``: the image's figures (size, artifact pixels, parts with their severity, the area below each
  threshold, the pixels and artifact pixels of each ADE20K class) and pictures, from which ``summary.csv`` and
  ``index.html`` are rebuilt;
* ``sr_mse/<img>.png``, ``sr_gan/<img>.png``: the SR results made in LR mode (reused by reruns);
* ``summary.csv``: one line per image (:data:`SUMMARY_FIELDS`); ``class_areas`` is a JSON object
  ``{"<ADE20K class>": <artifact pixels>, ...}`` of the classes holding artifact pixels, most first (empty without
  a segmenter);
* ``index.html`` (and ``page-2.html``, ... with ``report: rows_per_page`` images each, worst first) and ``report/``,
  its pictures (the plain GAN-SR result for the comparison slider among them), their thumbnails and the crops of
  each part; ``detect_<name>_<time>.log``.

The mask is written last and atomically, so an image with a mask is finished and a rerun skips it (unless
``overwrite: true``). Each record keeps, under ``made_with``, the options and input files that shaped the image's
outputs (``detector``, ``report: max_parts``, and the size and time of every input file); a rerun redoes, and says so
in its log, every image whose record differs, so ``summary.csv`` and ``index.html`` only show outputs of the options
they name. In LR mode the SR results are remade when the networks or weights changed
(:meth:`~desra.inference.sr_cache.SRCache.discard_stale`).
"""
import json
import os

from desra.detection.outputs import (DetectionOutputs, detect_pair, load_sr_images, map_figures, mask_figures,
                                     part_records)
from desra.detection.stage_one_run import StageOneRun
from desra.io.images import write_text
from desra.io.records import csv_text
from desra.report import (Comparison, ReportPictures, ReportRow, colour_scales_svg, measure_parts, severity_fact,
                          strength_map, summary_table, write_report)
from desra.report.blocks import HEAT_NOTE, HEAT_TITLE, class_block, part_views, threshold_block, top_classes_text

#: Columns of ``summary.csv``.
SUMMARY_FIELDS = ('image', 'height', 'width', 'artifact_pixels', 'fraction', 'parts', 'class_areas')
#: Crop labels and titles of the report, in display order (the first two on a part's card).
CROP_TITLES = {'gan': 'GAN-SR, mask outlined', 'mse': 'MSE-SR', 'lr': 'LR (nearest neighbour)'}
#: Crop labels and titles of the slider in the zoom of a part.
SLIDER_TITLES = {'mse': 'MSE-SR', 'gan_plain': 'GAN-SR'}
#: Rows of the detect report's summary table: (label, key of :meth:`DetectRun.summary`, format).
DETECT_SUMMARY_FIELDS = (
    ('images found', 'images_found', '{}'),
    ('images examined', 'images', '{}'),
    ('images skipped (errors)', 'images_failed', '{}'),
    ('images with artifacts', 'images_with_artifacts', '{}'),
    ('artifact area', 'artifact_pixels', '{} px'),
    ('artifact area, % of all pixels', 'artifact_percent', '{:.2f} %'),
    ('artifact parts', 'parts', '{}'),
    ('threshold', 'threshold', '{}'),
    ('min_area', 'min_area', '{} px'),
    ('segmenter', 'segmenter', '{}'),
    ('reference (MSE model)', 'reference', '{}'),
)


def class_areas_text(classes):
    """The ``class_areas`` column of ``summary.csv``: JSON ``{class: artifact pixels}`` of the classes holding
    artifact pixels, most first; '' without classes."""
    if classes is None:
        return ''
    areas = sorted((figure for figure in classes if figure['artifact_pixels']), key=lambda f: -f['artifact_pixels'])
    return json.dumps({figure['name']: figure['artifact_pixels'] for figure in areas})


class DetectRun(StageOneRun):
    """The detect command on one rank (see the module docstring for the outputs)."""

    def __init__(self, opt):
        super().__init__(opt, 'detect', 'detect', ('mse', 'gan'))
        self.outputs = DetectionOutputs(self.run_root, self.run_root)

    def is_done(self, item):
        """Whether the image was finished by an earlier run with the same options and inputs (its mask exists, it is
        written last, and its record's ``made_with`` is current)."""
        return os.path.isfile(self.outputs.path('masks', item.name)) and self.record_changes(item) == []

    def process(self, item):
        """Detect the artifacts of one image and write all its outputs, the mask last.

        Raises:
            ValueError: The image cannot be used (unreadable, sizes differ, too small); the message names its files.
        """
        lq = self.make_sr_results(item)
        images = load_sr_images(item, ('mse', 'gan'))
        result = detect_pair(self.detector, item, images)
        parts = measure_parts(result.mask, result.adjusted)
        shape = result.mask.shape
        pictures = self.outputs.save_maps(item.name, result, images['gan'], self.pictures)
        lr_path, lr = self.lr_picture(item, shape, lq)
        pictures.update(lr=lr_path, mse=self.pictures.image('mse', item.name, images['mse']),
                        heat=self.pictures.heatmap('heat', item.name, result.adjusted, shape, result.mask),
                        gan=self.pictures.image('gan', item.name, images['gan']))
        crop_images = dict(gan=images['gan'], mse=images['mse'], **({} if lr is None else {'lr': lr}))
        crops = self.pictures.crops(item.name, parts[:self.max_parts], crop_images, {'gan': result.mask},
                                    strength_map(result.adjusted, shape) * result.mask)
        record = dict(image=item.name, **mask_figures(result.mask, parts), **map_figures(result),
                      part_list=part_records(parts, crops),
                      inputs={'mse': item.sr_paths['mse'], 'gan': item.sr_paths['gan'], 'lq': item.lq_path},
                      pictures=pictures, made_with=self.made_with(item))
        write_text(self.record_path(item.name), json.dumps(record, indent=1))
        self.outputs.save_mask(item.name, result.mask)

    @staticmethod
    def report_row(record):
        """The row of an image on the report page."""
        pictures = record['pictures']
        size = (record['width'], record['height'])

        def panel(key, title, scale=None):
            return ReportPictures.panel(title, pictures[key], size, scale) if pictures.get(key) else None

        # in pairs, two a line: the mask and its map; the slider and the classes; the MSE-SR and the LR image
        shown = [panel('overlay', 'GAN-SR, artifact mask outlined'), panel('heat', HEAT_TITLE, 'heat'),
                 Comparison('MSE-SR vs GAN-SR', panel('mse', 'MSE-SR'), panel('gan', 'GAN-SR'))
                 if pictures.get('gan') else None,
                 panel('seg', 'classes (ADE20K)'), panel('mse', 'MSE-SR'),
                 panel('lr', 'LR (nearest-neighbour x scale)')]
        facts = [('size', f'{record["width"]}x{record["height"]}'),
                 ('artifact pixels', f'{record["artifact_pixels"]} ({100 * record["fraction"]:.3g} %)'),
                 ('parts', record['parts']), severity_fact(record['severity'])]
        if top_classes_text(record.get('classes')):
            facts.append(('artifacts in', top_classes_text(record['classes'])))
        parts = part_views(record['part_list'], CROP_TITLES, compare=SLIDER_TITLES)
        return ReportRow(record['image'], record['severity'], facts, [item for item in shown if item], parts,
                         record.get('classes') or [])

    def summary(self, records, failures):
        """The run-level figures of the summary table (:data:`DETECT_SUMMARY_FIELDS`)."""
        image_pixels = sum(record['height'] * record['width'] for record in records)
        artifact_pixels = sum(record['artifact_pixels'] for record in records)
        segmenter = self.detector.opt['segmenter'] or {'type': 'none'}
        return {'images_found': len(self.items) + len(self.input_failures), 'images': len(records),
                'images_failed': len(failures), 'images_with_artifacts': sum(record['parts'] > 0 for record in records),
                'artifact_pixels': artifact_pixels,
                'artifact_percent': 100 * artifact_pixels / image_pixels if image_pixels else None,
                'parts': sum(record['parts'] for record in records), 'threshold': self.detector.opt['threshold'],
                'min_area': self.detector.opt['min_area'], 'reference': self.reference,
                'segmenter': ' '.join(str(value) for value in (segmenter.get('type'), segmenter.get('model_path'))
                                      if value)}

    def write_run_outputs(self, failures):
        """Write ``summary.csv`` and ``index.html`` from the records of all finished images."""
        records = self.read_records(failures)
        write_text(os.path.join(self.run_root, 'summary.csv'), csv_text(SUMMARY_FIELDS, [
            dict(record, class_areas=class_areas_text(record.get('classes'))) for record in records]))
        threshold = self.detector.opt['threshold']
        header = [('Summary', summary_table(self.summary(records, failures), DETECT_SUMMARY_FIELDS)),
                  threshold_block({'GAN-SR': records}, threshold), class_block({'GAN-SR': records})]
        notes = ['Each row: the GAN-SR result with the detected artifact parts outlined in red beside its '
                 'semantics-adjusted contrast map; a slider between the MSE-SR and the GAN-SR result and, with a '
                 'segmenter, the ADE20K classes of the GAN-SR result; the MSE-SR result and the LR input when known. '
                 'Each artifact part: crops of the GAN-SR (mask outlined) and MSE-SR results side by side; its zoom '
                 'adds the LR crop and a slider.', HEAT_NOTE,
                 f'Detector options: {json.dumps(self.opt["detector"])}']
        write_report(os.path.join(self.run_root, 'index.html'), f'DeSRA artifact detection: {self.opt["name"]}',
                     [self.report_row(record) for record in records], header=[block for block in header if block],
                     scales=colour_scales_svg(threshold), notes=notes, failures=failures,
                     warnings=self.misuse_warnings, rows_per_page=self.rows_per_page)
        self.logger.info(f'summary: {os.path.join(self.run_root, "summary.csv")}; '
                         f'report: {os.path.join(self.run_root, "index.html")}')
