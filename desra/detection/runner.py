"""The detect command: DeSRA's Stage 1 over a set of images, with masks, maps, a summary and a visual report.

Outputs under the run folder ``<results_root>/<name>/`` (``<img>`` = the image's relative path without extension):

* ``masks/<img>.png``: the final artifact mask, uint8 0/255, GAN-SR size; the ``window_size // 2`` border is 0;
* ``contrast/<img>.png``, ``adjusted/<img>.png``: the contrast map c and the semantics-adjusted map of the interior
  ((H - 2r) x (W - 2r), r = window_size // 2) as 16-bit PNG: ``round(clip(c, 0, 1) * 65535)``;
* ``seg/<img>.png``: the ADE20K classes of the GAN-SR image in mmsegmentation's palette (only with a segmenter);
* ``overlays/<img>.png``: the GAN-SR image (8-bit) with the mask outlined in red;
* ``records/<img>.json``: the image's figures (size, artifact pixels, parts with their severity) and pictures,
  from which ``summary.csv`` and ``index.html`` are rebuilt;
* ``sr_mse/<img>.png``, ``sr_gan/<img>.png``: the SR results made in LR mode (reused by reruns);
* ``report/``: the pictures of ``index.html``; ``summary.csv``; ``index.html``; ``detect_<name>_<time>.log``.

The mask is written last and atomically, so an image with a mask is finished and a rerun skips it (unless
``overwrite: true``).
"""
import csv
import io
import json
import os

import numpy as np

from desra.detection import ArtifactDetector
from desra.utils.batch import SRCache, finish, gather_failures, get_command_logger, run_batch, shard
from desra.detection.pairs import collect_items
from desra.report import (Panel, PartView, ReportPictures, ReportRow, colorize_labels, measure_parts, outline_mask,
                          save_rgb, write_report)
from desra.utils.img_io import decoded_rgb255, load_rgb255, write_image, write_text
from desra.utils.options import resolve_device

#: Columns of ``summary.csv``.
SUMMARY_FIELDS = ('image', 'height', 'width', 'artifact_pixels', 'fraction', 'parts')
#: Parts per image shown with crops in the report (the worst ones), unless ``report: max_parts`` says otherwise.
DEFAULT_MAX_PARTS = 8
#: Labels of the SR results.
ROLE_LABELS = {'mse': 'MSE-SR', 'gan': 'GAN-SR', 'finetuned': 'fine-tuned GAN-SR'}


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

    def save_maps(self, name, result, gan_rgb255):
        """Write everything but the mask: contrast, adjusted, seg (when there are labels) and the overlay.

        Returns:
            dict[str, str | None]: Paths relative to the run of the ``overlay`` and ``seg`` pictures.
        """
        write_image(self.path('contrast', name), encode_unit_map(result.contrast))
        write_image(self.path('adjusted', name), encode_unit_map(result.adjusted))
        seg = None
        if result.labels is not None:
            save_rgb(self.path('seg', name), colorize_labels(result.labels))
            seg = self.relpath('seg', name)
        save_rgb(self.path('overlays', name), outline_mask(gan_rgb255, result.mask))
        return {'overlay': self.relpath('overlays', name), 'seg': seg}

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
            crops = [Panel(title, part['crops'][label]) for label, title in crop_titles.items()]
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
        self.logger.info(f'{len(self.items)} images, SR results '
                         + (f'made from the LR images by network_{", network_".join(roles)}' if lq_mode
                            else 'read from dataroot_mse / dataroot_gan'))
        device = resolve_device(opt)
        self.sr_cache = SRCache(opt, roles, device) if lq_mode else None
        if self.sr_cache is not None:
            self.sr_cache.prepare(shard(self.items, opt), opt.get('overwrite', False))
        self.detector = ArtifactDetector(opt['detector'], device)
        if self.detector.segmenter is None:
            self.logger.info('segmenter: none: semantic adjustment skipped (class weight 1 everywhere), no seg/ maps')
        self.pictures = ReportPictures(self.run_root)
        self.max_parts = (opt.get('report') or {}).get('max_parts', DEFAULT_MAX_PARTS)
        if not isinstance(self.max_parts, int) or self.max_parts < 0:
            raise ValueError(f'report:max_parts must be an integer >= 0, got {self.max_parts!r}')

    def record_path(self, name):
        """Path of the JSON record of image ``name``."""
        return os.path.join(self.run_root, 'records', f'{name}.json')

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
        """Whether the image was finished by an earlier run (its mask exists; it is written last)."""
        return os.path.isfile(self.outputs.path('masks', item.name)) and os.path.isfile(self.record_path(item.name))

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
        pictures = self.outputs.save_maps(item.name, result, images['gan'])
        pictures.update(lr=self.lr_picture(item, shape, lq), mse=self.pictures.image('mse', item.name, images['mse']),
                        heat=self.pictures.heatmap('heat', item.name, result.contrast, shape))
        crops = self.pictures.crops(item.name, parts[:self.max_parts], {'gan': images['gan'], 'mse': images['mse']},
                                    {'gan': result.mask})
        record = dict(image=item.name, **mask_figures(result.mask, parts), part_list=part_records(parts, crops),
                      inputs={'mse': item.sr_paths['mse'], 'gan': item.sr_paths['gan'], 'lq': item.lq_path},
                      pictures=pictures)
        write_text(self.record_path(item.name), json.dumps(record, indent=1))
        self.outputs.save_mask(item.name, result.mask)

    def report_row(self, record):
        """The row of an image on the report page."""
        pictures = record['pictures']
        panels = [Panel('LR (nearest-neighbour x scale)', pictures['lr'])] if pictures['lr'] else []
        panels += [Panel('MSE-SR', pictures['mse']),
                   Panel('GAN-SR, artifact mask outlined', pictures['overlay']),
                   Panel('contrast c (red = low = likely artifact)', pictures['heat'])]
        if pictures['seg']:
            panels.append(Panel('semantic classes (ADE20K)', pictures['seg']))
        facts = [('size', f'{record["width"]}x{record["height"]}'),
                 ('artifact pixels', f'{record["artifact_pixels"]} ({100 * record["fraction"]:.3g} %)'),
                 ('parts', record['parts']), ('severity', record['severity'])]
        parts = part_views(record['part_list'], {'gan': 'GAN-SR', 'mse': 'MSE-SR'})
        return ReportRow(record['image'], record['severity'], facts, panels, parts)

    def write_run_outputs(self, failures):
        """Write ``summary.csv`` and ``index.html`` from the records of all finished images."""
        records = self.read_records(failures)
        write_text(os.path.join(self.run_root, 'summary.csv'), csv_text(SUMMARY_FIELDS, records))
        summary = [('images found', len(self.items) + len(self.input_failures)), ('images examined', len(records)),
                   ('images skipped (errors)', len(failures)),
                   ('images with artifacts', sum(record['parts'] > 0 for record in records)),
                   ('artifact pixels, all images', sum(record['artifact_pixels'] for record in records))]
        notes = ['Each row: the LR input when known, the MSE-SR and GAN-SR results, the GAN-SR result with the '
                 'detected artifact parts outlined in red, and the contrast map c of DeSRA (Eq. 7; the border of '
                 'window_size // 2 pixels, where it is not computed, is black). Crops: GAN-SR (mask outlined) '
                 'beside MSE-SR.',
                 f'Detector options: {json.dumps(self.opt["detector"])}']
        write_report(os.path.join(self.run_root, 'index.html'), f'DeSRA artifact detection: {self.opt["name"]}',
                     [self.report_row(record) for record in records], summary, notes, failures)
        self.logger.info(f'summary: {os.path.join(self.run_root, "summary.csv")}; '
                         f'report: {os.path.join(self.run_root, "index.html")}')
