"""The batch run that the detect and test commands share: Stage 1 over a set of images.

:class:`StageOneRun` lists the images (:mod:`desra.detection.pairs`), makes their SR results in LR mode
(:class:`~desra.inference.sr_cache.SRCache`), builds the detector, keeps one JSON record per finished image
(``records/<img>.json``, with ``made_with``: the options and input files that shaped its outputs, so a rerun redoes
what other options or inputs made) and runs the per-image loop (:func:`desra.batch.run.run_batch`). The commands'
runs subclass it: :class:`desra.detection.detect_run.DetectRun` and
:class:`desra.evaluation.finetune_eval.FinetuneEvalRun`.
"""
import json
import os

from desra.batch.failures import capped_lines
from desra.batch.logs import get_command_logger
from desra.batch.run import finish, gather_failures, require_images, run_batch, shard
from desra.config.layout import resolve_device
from desra.detection.detector import ArtifactDetector
from desra.detection.pairs import collect_items
from desra.inference.sr_cache import SRCache
from desra.io.images import decoded_rgb255, load_rgb255
from desra.io.paths import is_within
from desra.io.records import content_identity, describe_changes, file_identity, json_form
from desra.report import DEFAULT_ROWS_PER_PAGE, ReportPictures
from desra.weights.hub import resolve_weights
from desra.weights.reference import reference_of

#: Parts per image shown with crops in the report (the worst ones), unless ``report: max_parts`` says otherwise.
DEFAULT_MAX_PARTS = 8
#: What an identical pair of inputs means, by the pair of roles.
SAME_INPUT_CONSEQUENCES = {
    ('mse', 'gan'): 'the contrast is 1 everywhere and no artifact can be found: network_mse must be a PSNR-oriented '
                    'model (the GAN\'s MSE parent, its reference twin or a generic one)',
    ('gan', 'finetuned'): 'the fine-tuned model is the original: nothing can have been removed (is '
                          'pretrain_network_finetuned the checkpoint fine-tuning wrote?)',
    ('mse', 'finetuned'): 'the "fine-tuned" model is the MSE model: its results have no GAN texture left to judge',
}


def same_inputs_warnings(opt, dataset_opt, roles, lq_mode):
    """Warnings for inputs that make the comparison meaningless: two roles with the same weights (the same file,
    or a copy: same size and SHA-256; LR mode), or ``dataroot_mse`` and ``dataroot_gan`` the same folder.

    Returns:
        list[str]: One sentence per identical pair, saying what follows from it (:data:`SAME_INPUT_CONSEQUENCES`).
    """
    if not lq_mode:
        same = is_within(dataset_opt['dataroot_mse'], dataset_opt['dataroot_gan']) and is_within(
            dataset_opt['dataroot_gan'], dataset_opt['dataroot_mse'])
        return [f'dataroot_mse and dataroot_gan are the same folder ({dataset_opt["dataroot_gan"]}): '
                + SAME_INPUT_CONSEQUENCES[('mse', 'gan')]] if same else []
    paths = opt.get('path') or {}
    weights = {role: paths.get(f'pretrain_network_{role}') for role in roles}
    identity = {role: content_identity(resolve_weights(path)) for role, path in weights.items() if path}
    return [f'network_{first} and network_{second} have the same weights ({weights[first]}, {weights[second]}): '
            + consequence for (first, second), consequence in SAME_INPUT_CONSEQUENCES.items()
            if first in identity and second in identity and identity[first] == identity[second]]


class StageOneRun:
    """What the detect and test commands share: their images, SR cache, detector, records and batch run.

    Subclasses implement :meth:`is_done`, :meth:`process` and :meth:`write_run_outputs`.

    Args:
        opt (dict): Parsed options (:func:`desra.config.options.parse_command_options`).
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
        if phase not in opt.get('datasets', {}):
            raise KeyError(f'option "datasets: {phase}:" (the images) is missing')
        if 'detector' not in opt:
            raise KeyError('option "detector:" (the Stage 1 settings) is missing')
        self.items, self.input_failures, lq_mode = collect_items(opt['datasets'][phase], self.run_root, roles)
        require_images(len(self.items), self.input_failures,
                       ', '.join(f'{key} {value}' for key, value in opt['datasets'][phase].items()
                                 if key.startswith('dataroot') or key == 'meta_info_file'))
        device = resolve_device(opt)
        self.sr_cache = SRCache(opt, roles, device) if lq_mode else None
        if self.sr_cache is not None:  # the networks are built before the run's folder is made
            self.sr_cache.prepare(shard(self.items, opt), self.run_root, opt.get('overwrite', False))
        self.detector = ArtifactDetector(opt['detector'], device)
        self.logger = get_command_logger(opt, command)
        self.logger.info(f'{len(self.items)} images, SR results '
                         + (f'made from the LR images by network_{", network_".join(roles)}' if lq_mode
                            else 'read from dataroot_mse / dataroot_gan'))
        lq_root = opt['datasets'][phase].get('dataroot_lq')
        unpaired = [item.name for item in self.items if lq_root and item.lq_path is None]
        if unpaired:
            self.logger.warning(f'{len(unpaired)} of {len(self.items)} images have no LR image of the same name in '
                                f'{lq_root} (dataroot_lq); they are detected and reported without it:\n'
                                + capped_lines(unpaired))
        if self.sr_cache is not None:
            self.sr_cache.discard_stale(self.run_root, self.logger)
        self.reference_kind, self.reference = reference_of(opt, lq_mode)
        self.logger.info(f'reference (the MSE model compared with): {self.reference}')
        self.misuse_warnings = same_inputs_warnings(opt, opt['datasets'][phase], roles, lq_mode)
        for warning in self.misuse_warnings:
            self.logger.warning(warning)
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
        parts with crops, and the identity (:func:`~desra.io.records.file_identity`) of each input file."""
        inputs = {'lq': item.lq_path, **item.sr_paths}
        return json_form({'detector': self.opt['detector'], 'max_parts': self.max_parts,
                          'inputs': {role: [path, file_identity(path)] for role, path in inputs.items()}})

    def record_changes(self, item):
        """How the image's record differs from what a run now would make: None when there is no record, [] when it
        is current, else the differences (:func:`~desra.io.records.describe_changes`)."""
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
        """Write the report picture of the LR image at the SR ``shape`` (from ``lq``, the decoded LR image, when
        given; else read).

        Returns:
            tuple[str | None, np.ndarray | None]: Its path and pixels (uint8 (H, W, 3) RGB, for the crops), or
            (None, None) when there is no LR image.
        """
        if not item.lq_path:
            return None, None
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
