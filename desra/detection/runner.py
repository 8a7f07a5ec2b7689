"""The detect command: DeSRA's Stage 1 over a set of images, with masks, maps, a summary and a visual report.

Outputs under the run folder ``<results_root>/<name>/`` (``<img>`` = the image's relative path without extension):

* ``masks/<img>.png``: the final artifact mask, uint8 0/255, GAN-SR size; the ``window_size // 2`` border is 0;
* ``contrast/<img>.png``, ``adjusted/<img>.png``: the contrast map c and the semantics-adjusted map of the interior
  ((H - 2r) x (W - 2r), r = window_size // 2) as 16-bit PNG: ``round(clip(c, 0, 1) * 65535)``;
* ``seg/<img>.png``: the ADE20K classes of the GAN-SR image in mmsegmentation's palette (only with a segmenter);
* ``overlays/<img>.png``: the GAN-SR image (8-bit) with the mask outlined in red;
* ``records/<img>.json``: the image's figures (size, artifact pixels, parts with their severity, the area below each
  threshold, the pixels and artifact pixels of each ADE20K class) and pictures, from which ``summary.csv`` and
  ``index.html`` are rebuilt;
* ``sr_mse/<img>.png``, ``sr_gan/<img>.png``: the SR results made in LR mode (reused by reruns);
* ``summary.csv``: one line per image (:data:`SUMMARY_FIELDS`); ``class_areas`` is a JSON object
  ``{"<ADE20K class>": <artifact pixels>, ...}`` of the classes holding artifact pixels, most first (empty without
  a segmenter);
* ``index.html`` (and ``page-2.html``, ... with ``report: rows_per_page`` images each, worst first) and ``report/``,
  its pictures and their thumbnails; ``detect_<name>_<time>.log``.

The mask is written last and atomically, so an image with a mask is finished and a rerun skips it (unless
``overwrite: true``). Each record keeps, under ``made_with``, the options and input files that shaped the image's
outputs (``detector``, ``report: max_parts``, and the size and time of every input file); a rerun redoes, and says so
in its log, every image whose record differs, so ``summary.csv`` and ``index.html`` only show outputs of the options
they name. In LR mode the SR results are remade when the networks or weights changed
(:meth:`~desra.utils.batch.SRCache.discard_stale`).
"""
import csv
import io
import json
import os

import numpy as np

from desra.detection import ArtifactDetector
from desra.utils.batch import (SRCache, finish, gather_failures, get_command_logger, require_images, run_batch,
                               shard)
from desra.detection.pairs import collect_items
from desra.report import (CURVE_THRESHOLDS, DEFAULT_ROWS_PER_PAGE, PartView, ReportPictures, ReportRow,
                          below_threshold_curve, class_figures, class_table, colorize_labels, colour_bar_svg,
                          measure_parts, outline_mask, pooled_curve, save_rgb, summary_table, threshold_plot_svg,
                          total_class_figures, write_report)
from desra.utils.image_names import capped_lines
from desra.utils.img_io import decoded_rgb255, load_rgb255, write_image, write_text
from desra.utils.made_with import describe_changes, file_identity, json_form
from desra.utils.options import resolve_device

#: Columns of ``summary.csv``.
SUMMARY_FIELDS = ('image', 'height', 'width', 'artifact_pixels', 'fraction', 'parts', 'class_areas')
#: Parts per image shown with crops in the report (the worst ones), unless ``report: max_parts`` says otherwise.
DEFAULT_MAX_PARTS = 8
#: Labels of the SR results.
ROLE_LABELS = {'mse': 'MSE-SR', 'gan': 'GAN-SR', 'finetuned': 'fine-tuned GAN-SR'}
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
)
#: Title of the heat-map panels.
HEAT_TITLE = 'adjusted contrast (thresholded for the mask)'


def encode_unit_map(values):
    """A map of values in [0, 1] as uint16: ``round(clip(values, 0, 1) * 65535)``."""
    return np.round(np.clip(values, 0, 1) * 65535).astype(np.uint16)


def load_sr_images(item, roles):
    """Read the SR results of an image, which must all have one size.

    Returns:
        dict[str, np.ndarray]: float64 (H, W, 3) RGB 0..255 per role.

    Raises:
        ValueError: A file cannot be read, or the sizes differ (the message lists every file with its size).
    """
    images = {role: load_rgb255(item.sr_paths[role]) for role in roles}
    if len({image.shape for image in images.values()}) > 1:
        sizes = ', '.join(f'{ROLE_LABELS[role]} {item.sr_paths[role]} is {image.shape[1]}x{image.shape[0]} (WxH)'
                          for role, image in images.items())
        raise ValueError(f'size mismatch: {sizes}')
    return images


def detect_pair(detector, item, images, gan_role='gan'):
    """Run the detector on ``images['mse']`` and ``images[gan_role]``.

    Raises:
        ValueError: The detector refuses the pair (e.g. smaller than its window); the message adds both files and
            their size.
    """
    try:
        return detector.detect(images['mse'], images[gan_role])
    except ValueError as error:
        height, width = images['mse'].shape[:2]
        source = f', LR {item.lq_path}' if item.lq_path else ''
        raise ValueError(f'{error} (MSE-SR {item.sr_paths["mse"]} and {ROLE_LABELS[gan_role]} '
                         f'{item.sr_paths[gan_role]}, {width}x{height} WxH{source})') from None


class DetectionOutputs:
    """Writes the detection outputs of one SR model's images (masks, maps, overlays) under ``root``.

    Args:
        root (str): Folder of ``masks/``, ``contrast/``, ``adjusted/``, ``seg/``, ``overlays/``.
        run_root (str): The run folder; returned paths are relative to it.
    """

    def __init__(self, root, run_root):
        self.root = root
        self.run_root = run_root

    def path(self, kind, name):
        """Path of output ``kind`` (``'masks'``, ``'contrast'``, ...) of image ``name``."""
        return os.path.join(self.root, kind, f'{name}.png')

    def relpath(self, kind, name):
        """:meth:`path` relative to the run folder, POSIX separators."""
        return os.path.relpath(self.path(kind, name), self.run_root).replace(os.sep, '/')

    def save_maps(self, name, result, gan_rgb255, pictures):
        """Write everything but the mask: contrast, adjusted, seg (when there are labels) and the overlay, with the
        thumbnails of the last two (``pictures``: the run's :class:`ReportPictures`).

        Returns:
            dict[str, str | None]: Paths relative to the run of the ``overlay`` and ``seg`` pictures.
        """
        write_image(self.path('contrast', name), encode_unit_map(result.contrast))
        write_image(self.path('adjusted', name), encode_unit_map(result.adjusted))
        seg = None if result.labels is None else self._save_picture('seg', name, colorize_labels(result.labels),
                                                                    pictures)
        overlay = self._save_picture('overlays', name, outline_mask(gan_rgb255, result.mask), pictures)
        return {'overlay': overlay, 'seg': seg}

    def _save_picture(self, kind, name, rgb, pictures):
        save_rgb(self.path(kind, name), rgb)
        rel_path = self.relpath(kind, name)
        pictures.thumbnail(rel_path, rgb)
        return rel_path

    def save_mask(self, name, mask):
        """Write the mask (uint8 0/255) atomically, after the maps: the detect command takes it as the sign that
        the image is finished."""
        write_image(self.path('masks', name), mask.astype(np.uint8) * 255)


def mask_figures(mask, parts):
    """The summary figures of an artifact mask (the ``summary.csv`` columns but the image name).

    Args:
        mask (np.ndarray): bool (H, W).
        parts (list[ArtifactPart]): Its parts (:func:`desra.report.measure_parts`).
    """
    height, width = mask.shape
    pixels = int(mask.sum())
    return {'height': height, 'width': width, 'artifact_pixels': pixels, 'fraction': pixels / mask.size,
            'parts': len(parts), 'severity': sum(part.severity for part in parts)}


def map_figures(result):
    """The report's figures of a detection result beyond its mask: ``below_threshold``
    (:func:`desra.report.below_threshold_curve`) and ``classes`` (:func:`desra.report.class_figures`; None without
    a segmenter)."""
    return {'below_threshold': below_threshold_curve(result.adjusted, result.mask.size),
            'classes': None if result.labels is None else class_figures(result.labels, result.mask)}


def class_areas_text(classes):
    """The ``class_areas`` column of ``summary.csv``: JSON ``{class: artifact pixels}`` of the classes holding
    artifact pixels, most first; '' without classes."""
    if classes is None:
        return ''
    areas = sorted((figure for figure in classes if figure['artifact_pixels']), key=lambda f: -f['artifact_pixels'])
    return json.dumps({figure['name']: figure['artifact_pixels'] for figure in areas})


def top_classes_text(classes, count=3):
    """e.g. ``'sky 60 %, tree 30 %'``: the classes holding most of an image's artifact pixels, with their share."""
    total = sum(figure['artifact_pixels'] for figure in classes or ())
    top = sorted((figure for figure in classes or () if figure['artifact_pixels']), key=lambda f: -f['artifact_pixels'])
    return ', '.join(f'{figure["name"]} {100 * figure["artifact_pixels"] / total:.0f} %' for figure in top[:count])


def threshold_block(figure_sets, threshold):
    """The area-vs-threshold plot of the report's first page, or None when no record has the figures.

    Args:
        figure_sets (dict[str, list[dict]]): Curve label -> the mask figures (:func:`mask_figures` and
            :func:`map_figures`) of each image.
        threshold (float): The run's ``detector: threshold``.

    Returns:
        tuple[str, str] | None: (heading, HTML).
    """
    curves, marks = {}, {}
    for label, figures in figure_sets.items():
        figures = [figure for figure in figures if figure.get('below_threshold')]
        if figures:
            areas = [figure['height'] * figure['width'] for figure in figures]
            curves[label] = pooled_curve([figure['below_threshold'] for figure in figures], areas)
            marks[label] = sum(figure['artifact_pixels'] for figure in figures) / sum(areas)
    if not curves:
        return None
    note = ('Share of all pixels whose adjusted contrast is below each threshold, before the morphology and the '
            'min_area filter; the dot is the final masks\' area at the run\'s threshold (dashed). Use it to choose '
            'detector: threshold for a new model.')
    return ('Artifact area vs threshold', threshold_plot_svg(CURVE_THRESHOLDS, curves, threshold, marks)
            + f'<p class="legend-note">{note}</p>')


def class_block(figure_sets):
    """The artifact-area-per-class table of the report's first page (see :func:`threshold_block` for
    ``figure_sets``), or None without classes."""
    totals = [total_class_figures([figure['classes'] for figure in figures if figure.get('classes')])
              for figures in figure_sets.values()]
    table = class_table(totals, list(figure_sets))
    return ('Artifact area per class (ADE20K)', table) if table else None


def heat_legend(threshold):
    """The colour bar of the heat maps, shown on every page."""
    return (colour_bar_svg(threshold) + '<p class="legend-note">Heat maps: the semantics-adjusted contrast, the map '
            'the mask is thresholded on (red = low = the GAN-SR texture departs from the MSE-SR one; black border: '
            'not computed).</p>')


def part_records(parts, crops):
    """JSON records of parts, the first ``len(crops)`` with their crop pictures."""
    return [dict(part.to_dict(), crops=crops[index] if index < len(crops) else {})
            for index, part in enumerate(parts)]


def part_views(part_list, crop_titles, label='part'):
    """:class:`PartView` of the parts of a record that have crops.

    Args:
        part_list (list[dict]): Part records (:func:`part_records`).
        crop_titles (dict[str, str]): Title of each crop label, in display order.
        label (str): Parts are called ``'<label> 1'``, ``'<label> 2'``, ...
    """
    views = []
    for index, part in enumerate(part_list, 1):
        if part['crops']:
            facts = [('area', f'{part["area"]} px ({100 * part["share"]:.3g} %)'), ('strength', part['strength']),
                     ('box x,y,w,h', ','.join(map(str, part['bbox'])))]
            crops = [ReportPictures.panel(title, part['crops'][label]) for label, title in crop_titles.items()]
            views.append(PartView(f'{label} {index}', part['severity'], facts, crops))
    return views


def csv_text(fields, rows):
    """CSV text with a header line (``fields``) and one line per dict of ``rows``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


class StageOneRun:
    """What the detect and test commands share: their images, SR cache, detector, records and batch run.

    Subclasses implement :meth:`is_done`, :meth:`process` and :meth:`write_run_outputs`.

    Args:
        opt (dict): Parsed options (:func:`desra.utils.options.parse_command_options`).
        command (str): The command's name (log file name).
        phase (str): Key of the images' options under ``datasets:``.
        roles (tuple[str]): The SR results each image needs (``'mse'``, ``'gan'``, ``'finetuned'``).

    Raises:
        KeyError / ValueError / FileNotFoundError: The options or input folders do not allow a run (the message
            names the option, folder or file); raised before any image is processed.
    """

    def __init__(self, opt, command, phase, roles):
        self.opt = opt
        self.command = command
        self.run_root = opt['path']['run_root']
        self.logger = get_command_logger(opt, command)
        if phase not in opt.get('datasets', {}):
            raise KeyError(f'option "datasets: {phase}:" (the images) is missing')
        if 'detector' not in opt:
            raise KeyError('option "detector:" (the Stage 1 settings) is missing')
        self.items, self.input_failures, lq_mode = collect_items(opt['datasets'][phase], self.run_root, roles)
        require_images(len(self.items) + len(self.input_failures),
                       ', '.join(f'{key} {value}' for key, value in opt['datasets'][phase].items()
                                 if key.startswith('dataroot') or key == 'meta_info_file'))
        self.logger.info(f'{len(self.items)} images, SR results '
                         + (f'made from the LR images by network_{", network_".join(roles)}' if lq_mode
                            else 'read from dataroot_mse / dataroot_gan'))
        lq_root = opt['datasets'][phase].get('dataroot_lq')
        unpaired = [item.name for item in self.items if lq_root and item.lq_path is None]
        if unpaired:  # e.g. SR results named <stem>_out by infer's default suffix
            self.logger.warning(f'{len(unpaired)} of {len(self.items)} images have no LR image of the same name in '
                                f'{lq_root} (dataroot_lq); they are detected and reported without it:\n'
                                + capped_lines(unpaired))
        device = resolve_device(opt)
        self.sr_cache = SRCache(opt, roles, device) if lq_mode else None
        if self.sr_cache is not None:
            self.sr_cache.discard_stale(self.run_root, self.logger)
            self.sr_cache.prepare(shard(self.items, opt), opt.get('overwrite', False))
        self.detector = ArtifactDetector(opt['detector'], device)
        if self.detector.segmenter is None:
            self.logger.info('segmenter: none: semantic adjustment skipped (class weight 1 everywhere), no seg/ maps')
        self.pictures = ReportPictures(self.run_root)
        report_opt = opt.get('report') or {}
        self.max_parts = report_opt.get('max_parts', DEFAULT_MAX_PARTS)  # ranges checked by the option schema
        self.rows_per_page = report_opt.get('rows_per_page', DEFAULT_ROWS_PER_PAGE)

    def record_path(self, name):
        """Path of the JSON record of image ``name``."""
        return os.path.join(self.run_root, 'records', f'{name}.json')

    def made_with(self, item):
        """What shapes the outputs of an image (its record's ``made_with``): the detector options, the number of
        parts with crops, and the identity (:func:`~desra.utils.made_with.file_identity`) of each input file."""
        inputs = {'lq': item.lq_path, **item.sr_paths}
        return json_form({'detector': self.opt['detector'], 'max_parts': self.max_parts,
                          'inputs': {role: [path, file_identity(path)] for role, path in inputs.items()}})

    def record_changes(self, item):
        """How the image's record differs from what a run now would make: None when there is no record, [] when it
        is current, else the differences (:func:`~desra.utils.made_with.describe_changes`)."""
        if not os.path.isfile(self.record_path(item.name)):
            return None
        try:
            with open(self.record_path(item.name), encoding='utf-8') as f:
                earlier = json.load(f).get('made_with')
        except (OSError, ValueError, AttributeError):
            return ['record unreadable']
        return describe_changes(earlier, self.made_with(item)) if earlier else ['options not recorded']

    def log_stale(self):
        """Log the images of this rank whose outputs were made with other options or inputs (they are redone)."""
        if self.opt.get('overwrite', False):
            return
        stale = {}
        for item in shard(self.items, self.opt):
            changes = self.record_changes(item)
            if changes:
                stale[item.name] = changes
        if stale:
            changes = sorted({change for item_changes in stale.values() for change in item_changes})
            self.logger.warning(f'{len(stale)} image(s) were made with other options or inputs and are redone: '
                                f'{", ".join(list(stale)[:5])}{" ..." if len(stale) > 5 else ""} '
                                f'({"; ".join(changes[:6])}{" ..." if len(changes) > 6 else ""})')

    def read_records(self, failures):
        """The records of the finished images, in image order, leaving out those that failed in this run (their
        records, if any, are from an earlier run on other inputs)."""
        failed = {failure.name for failure in failures}
        records = []
        for item in self.items:
            if item.name not in failed and self.is_done(item):
                with open(self.record_path(item.name), encoding='utf-8') as f:
                    records.append(json.load(f))
        return records

    def make_sr_results(self, item):
        """Make the missing SR results of an image (LR mode), reading its LR image once.

        Returns:
            DecodedImage | None: The LR image when it was read for them (for :meth:`lr_picture`), else None.
        """
        if self.sr_cache is None:
            return None
        return self.sr_cache.ensure(item, overwrite=self.opt.get('overwrite', False))

    def lr_picture(self, item, shape, lq=None):
        """The report picture of the LR image at the SR ``shape`` (from ``lq``, the decoded LR image, when given;
        else read), or None when there is no LR image."""
        if not item.lq_path:
            return None
        return self.pictures.lr(item.name, decoded_rgb255(lq) if lq is not None else load_rgb255(item.lq_path), shape)

    def is_done(self, item):
        """Whether an earlier run finished the image."""
        raise NotImplementedError

    def process(self, item):
        """Process one image; raise ValueError naming its files when it cannot be used."""
        raise NotImplementedError

    def write_run_outputs(self, failures):
        """Write the run-level outputs from the records on disk (rank 0, after all ranks finished)."""
        raise NotImplementedError

    def run(self):
        """Process this rank's images, then (rank 0) the run-level outputs; return the exit status (0 or 1)."""
        self.log_stale()
        failures = run_batch(self.items, self.process, self.is_done, self.opt, self.logger, self.command,
                             prefetch=self.sr_cache.prefetch if self.sr_cache is not None else None)
        failures = self.input_failures + gather_failures(failures, self.opt)
        if self.opt['rank'] == 0:
            self.write_run_outputs(failures)
        return finish(failures, self.opt, self.logger)


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
        pictures.update(lr=self.lr_picture(item, shape, lq), mse=self.pictures.image('mse', item.name, images['mse']),
                        heat=self.pictures.heatmap('heat', item.name, result.adjusted, shape))
        crops = self.pictures.crops(item.name, parts[:self.max_parts], {'gan': images['gan'], 'mse': images['mse']},
                                    {'gan': result.mask})
        record = dict(image=item.name, **mask_figures(result.mask, parts), **map_figures(result),
                      part_list=part_records(parts, crops),
                      inputs={'mse': item.sr_paths['mse'], 'gan': item.sr_paths['gan'], 'lq': item.lq_path},
                      pictures=pictures, made_with=self.made_with(item))
        write_text(self.record_path(item.name), json.dumps(record, indent=1))
        self.outputs.save_mask(item.name, result.mask)

    def report_row(self, record):
        """The row of an image on the report page."""
        pictures = record['pictures']
        size = (record['width'], record['height'])
        titles = [('lr', 'LR (nearest-neighbour x scale)'), ('mse', 'MSE-SR'),
                  ('overlay', 'GAN-SR, artifact mask outlined'), ('heat', HEAT_TITLE), ('seg', 'classes (ADE20K)')]
        panels = [ReportPictures.panel(title, pictures[key], size) for key, title in titles if pictures.get(key)]
        facts = [('size', f'{record["width"]}x{record["height"]}'),
                 ('artifact pixels', f'{record["artifact_pixels"]} ({100 * record["fraction"]:.3g} %)'),
                 ('parts', record['parts']), ('severity', record['severity'])]
        if top_classes_text(record.get('classes')):
            facts.append(('artifacts in', top_classes_text(record['classes'])))
        parts = part_views(record['part_list'], {'gan': 'GAN-SR', 'mse': 'MSE-SR'})
        return ReportRow(record['image'], record['severity'], facts, panels, parts, record.get('classes') or [])

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
                'min_area': self.detector.opt['min_area'],
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
        notes = ['Each row: the LR input when known, the MSE-SR and GAN-SR results, the GAN-SR result with the '
                 'detected artifact parts outlined in red, the semantics-adjusted contrast map of DeSRA (Eq. 9, the '
                 'map the mask is thresholded on; the border of window_size // 2 pixels, where it is not computed, '
                 'is black) and, with a segmenter, the ADE20K classes of the GAN-SR result. Crops: GAN-SR (mask '
                 'outlined) beside MSE-SR.',
                 f'Detector options: {json.dumps(self.opt["detector"])}']
        write_report(os.path.join(self.run_root, 'index.html'), f'DeSRA artifact detection: {self.opt["name"]}',
                     [self.report_row(record) for record in records], header=[block for block in header if block],
                     legend=heat_legend(threshold), notes=notes, failures=failures, rows_per_page=self.rows_per_page)
        self.logger.info(f'summary: {os.path.join(self.run_root, "summary.csv")}; '
                         f'report: {os.path.join(self.run_root, "index.html")}')
