"""Stage 2 of DeSRA, the work of ``desra/build_dataset.py``: a detection run -> LR / pseudo-GT / mask triples.

See ``desra/build_dataset.py`` for the options, inputs and outputs.
"""
import json
import os
from dataclasses import asdict, dataclass

import numpy as np

from desra.batch.logs import get_command_logger
from desra.batch.run import finish, remove_output_folder, require_images, run_batch
from desra.data.aligned_crop import LQWindow, artifact_windows
from desra.data.pseudo_gt import mask_to_hr, pseudo_gt_image
from desra.detection.pairs import collect_items
from desra.io.images import read_image, write_image, write_text
from desra.io.names import Failure, index_folder, meta_info_name_problem
from desra.io.records import describe_changes, json_form
from desra.metrics.detection_metrics import DEFAULT_BORDER, load_mask

#: Options of ``datasets: build:`` that must be set.
REQUIRED_SOURCES = ('dataroot_mask', 'dataroot_mse', 'dataroot_gan', 'dataroot_lq')
#: The output folders in the run folder.
OUTPUT_FOLDERS = ('lq', 'gt', 'mask')
#: File in the run folder recording the :class:`BuildSettings` that made the samples.
SETTINGS_FILE = 'build_settings.json'


@dataclass(frozen=True)
class BuildSettings:
    """The ``scale``, ``manual_seed`` and ``build:`` options, checked (``options/build_dataset.yml`` explains them)."""
    scale: int
    seed: int
    feather_sigma: float = 0.0
    negative_ratio: float = 0.0
    min_artifact_pixels: int = 1
    mask_border: int = DEFAULT_BORDER
    crop_enabled: bool = False
    gt_size: int = 256
    max_crops_per_image: int = 4

    @classmethod
    def from_options(cls, opt):
        """Read ``opt``; raise ValueError naming every option that is out of range."""
        build, defaults = opt.get('build') or {}, cls(scale=4, seed=0)
        crop = build.get('crop') or {}
        settings = cls(scale=int(opt.get('scale', defaults.scale)), seed=int(opt['manual_seed']),
                       feather_sigma=float(build.get('feather_sigma', defaults.feather_sigma)),
                       negative_ratio=float(build.get('negative_ratio', defaults.negative_ratio)),
                       min_artifact_pixels=int(build.get('min_artifact_pixels', defaults.min_artifact_pixels)),
                       mask_border=int(build.get('mask_border', defaults.mask_border)),
                       crop_enabled=bool(crop.get('enabled', defaults.crop_enabled)),
                       gt_size=int(crop.get('gt_size', defaults.gt_size)),
                       max_crops_per_image=int(crop.get('max_crops_per_image', defaults.max_crops_per_image)))
        checks = [(settings.scale >= 1, 'scale must be at least 1'),
                  (settings.feather_sigma >= 0, 'build: feather_sigma must be >= 0'),
                  (0 <= settings.negative_ratio <= 1, 'build: negative_ratio must be in [0, 1]'),
                  (settings.min_artifact_pixels >= 1, 'build: min_artifact_pixels must be at least 1'),
                  (settings.mask_border >= 0, 'build: mask_border must be >= 0'),
                  (settings.gt_size >= 2 * settings.scale and settings.gt_size % settings.scale == 0,
                   f'build: crop: gt_size must be a multiple of scale ({settings.scale}) and at least 2 * scale, '
                   f'got {settings.gt_size}'),
                  (settings.max_crops_per_image >= 1, 'build: crop: max_crops_per_image must be at least 1')]
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise ValueError('; '.join(problems))
        return settings


def choose_negatives(names, ratio, seed):
    """The ``round(ratio * len(names))`` of ``names`` kept as negatives, drawn with ``default_rng(seed)``, sorted."""
    picks = np.random.default_rng(seed).choice(len(names), size=int(round(ratio * len(names))), replace=False)
    return sorted(names[i] for i in picks)


def sample_names(name, count, crop_enabled):
    """Output file names of an image's samples: ``<name>.png``, or ``<name>_s001.png``, ... in crop mode."""
    return [f'{name}_s{i:03d}.png' for i in range(1, count + 1)] if crop_enabled else [f'{name}.png']


class DatasetBuilder:
    """The build command (see the module docstring).

    Args:
        opt (dict): Parsed options (:func:`desra.config.options.parse_command_options`).

    Attributes:
        failures (list[Failure]): After :meth:`run`, every image that could not be used.
        samples (list[str]): After :meth:`run`, the sample names written to ``meta_info.txt``.

    Raises:
        KeyError / ValueError / FileNotFoundError: The options or input folders do not allow a build (the message
            names the option or folder); raised before any image is processed.
    """

    def __init__(self, opt):
        self.opt = opt
        self.settings = BuildSettings.from_options(opt)
        self.run_root = opt['path']['run_root']
        dataset_opt = (opt.get('datasets') or {}).get('build') or {}
        missing = [key for key in REQUIRED_SOURCES if not dataset_opt.get(key)]
        if missing:
            raise KeyError(f'options "datasets: build: {", ".join(missing)}" missing (the detection results)')
        if opt['dist']:
            raise ValueError('build_dataset runs in one process: start it without torchrun / --launcher')
        self.items, self.failures, _ = collect_items(dataset_opt, self.run_root)
        require_images(len(self.items), self.failures, ', '.join(
            f'{key} {dataset_opt[key]}' for key in ('dataroot_mse', 'dataroot_gan', 'meta_info_file')
            if dataset_opt.get(key)))
        self.mask_paths, mask_failures = index_folder(dataset_opt['dataroot_mask'], 'mask')
        self.failures += mask_failures
        self.logger = get_command_logger(opt, 'build_dataset')
        self.roots = dataset_opt
        self.samples = []
        self._names = {}  # image name -> its sample names, once planned

    def _counterpart(self, item, path, root_key, what):
        """``path``, or (when it is None) ValueError naming the image's GAN-SR and the folder searched."""
        if path is None:
            raise ValueError(f'{item.sr_paths["gan"]} (GAN-SR) has no {what}: no file named "{item.name}.*" in '
                             f'{self.roots[root_key]}')
        return path

    def mask_path(self, item):
        """The image's mask file (ValueError when there is none)."""
        return self._counterpart(item, self.mask_paths.get(item.name), 'dataroot_mask', 'mask')

    def discard_stale_samples(self):
        """Delete the samples of an earlier build with other settings (``build_settings.json`` differs) and record
        the current settings; the change is logged."""
        path = os.path.join(self.run_root, SETTINGS_FILE)
        current = json_form(asdict(self.settings))
        earlier = None
        if os.path.isfile(path):
            with open(path, encoding='utf-8') as f:
                earlier = json.load(f)
        if earlier == current:
            return
        folders = [os.path.join(self.run_root, folder) for folder in OUTPUT_FOLDERS]
        if earlier is not None or any(os.path.isdir(folder) for folder in folders):
            changes = '; '.join(describe_changes(earlier, current)) if earlier else f'no {SETTINGS_FILE}'
            self.logger.warning(f'the samples in {self.run_root} were built with other settings ({changes}): '
                                'deleted, every image is built again')
            for folder in folders:
                remove_output_folder(folder, [self.roots[key] for key in REQUIRED_SOURCES])
        write_text(path, json.dumps(current, indent=1))

    def select(self):
        """The items to build: those with artifacts, plus the chosen negatives; failures recorded.

        An image whose name cannot be a line of ``meta_info.txt`` (a line break, surrounding whitespace...; see
        :func:`~desra.io.names.meta_info_name_problem`) is refused.
        """
        with_artifacts, artifact_free = [], []
        already_failed = {failure.name for failure in self.failures}  # e.g. two masks share the name
        for item in self.items:
            if item.name in already_failed:
                continue
            problem = meta_info_name_problem(item.name)
            if problem:
                self.failures.append(Failure(item.name, f'{item.sr_paths["gan"]}: this name cannot be listed in '
                                                        f'meta_info.txt ({problem}); rename the file'))
                continue
            try:
                pixels = int(load_mask(self.mask_path(item)).sum())
            except ValueError as error:
                self.failures.append(Failure(item.name, str(error)))
                continue
            (with_artifacts if pixels >= self.settings.min_artifact_pixels else artifact_free).append(item)
        negatives = choose_negatives([item.name for item in artifact_free], self.settings.negative_ratio,
                                     self.settings.seed)
        self.logger.info(f'{len(with_artifacts)} images with artifacts, {len(artifact_free)} without '
                         f'({len(negatives)} kept as negatives, negative_ratio {self.settings.negative_ratio})')
        keep = {item.name for item in with_artifacts} | set(negatives)
        return [item for item in self.items if item.name in keep]

    def plan(self, item):
        """Read the LR image and the mask and decide the samples.

        Returns:
            tuple[np.ndarray, np.ndarray, list[LQWindow]]: The LR *image file array*, the bool HR mask and the LR
            windows of the samples (the whole image unless crop mode); the sample names are recorded.

        Raises:
            ValueError: A file is missing or unreadable, or the mask does not fit scale x the LR size.
        """
        lq = read_image(self._counterpart(item, item.lq_path, 'dataroot_lq', 'LR image'))
        hr_shape = (lq.shape[0] * self.settings.scale, lq.shape[1] * self.settings.scale)
        mask_path = self.mask_path(item)
        mask = load_mask(mask_path)
        try:
            mask = mask_to_hr(mask, hr_shape, self.settings.mask_border, mask_path)
        except ValueError as error:  # SR images and masks agree, as a rule: the LR image or the scale is wrong
            raise ValueError(f'size mismatch at scale {self.settings.scale}: LR {item.lq_path} is {lq.shape[0]}x'
                             f'{lq.shape[1]}, so SR should be {hr_shape[0]}x{hr_shape[1]} (check the LR image and '
                             f'scale); {error}') from None
        if self.settings.crop_enabled:
            windows = artifact_windows(mask, lq.shape[:2], self.settings.gt_size // self.settings.scale,
                                       self.settings.scale, self.settings.max_crops_per_image)
        else:
            windows = [LQWindow(0, 0, lq.shape[0], lq.shape[1])]
        self._names[item.name] = sample_names(item.name, len(windows), self.settings.crop_enabled)
        return lq, mask, windows

    def is_done(self, item):
        """Whether every output of the image exists and is newer than its inputs (False when it cannot be planned:
        :meth:`process` reports). A changed input (say, a mask of a detection rerun with another threshold) makes
        the image be built again.

        Outside crop mode the sample name follows from the image's name alone, so nothing is read.
        """
        if not self.settings.crop_enabled:
            self._names[item.name] = sample_names(item.name, 1, crop_enabled=False)
        else:
            try:
                self.plan(item)  # the number of crops depends on the mask
            except ValueError:
                return False
        outputs = [os.path.join(self.run_root, folder, name) for folder in OUTPUT_FOLDERS
                   for name in self._names[item.name]]
        if not all(os.path.isfile(path) for path in outputs):
            return False
        inputs = [item.lq_path, self.mask_paths.get(item.name), item.sr_paths['mse'], item.sr_paths['gan']]
        newest_input = max(os.stat(path).st_mtime_ns for path in inputs if path and os.path.isfile(path))
        return min(os.stat(path).st_mtime_ns for path in outputs) >= newest_input

    def process(self, item):
        """Write the samples of one image: LR, pseudo-GT and mask crops.

        Raises:
            ValueError: See :meth:`plan`; or an SR image is unreadable or not scale x the LR size (the message
                names the files and shapes).
        """
        lq, mask, windows = self.plan(item)
        scale, hr_shape = self.settings.scale, mask.shape
        sr_mse, sr_gan = read_image(item.sr_paths['mse']), read_image(item.sr_paths['gan'])
        if sr_mse.shape[:2] != hr_shape or sr_gan.shape[:2] != hr_shape:
            raise ValueError(f'size mismatch at scale {scale}: LR {item.lq_path} is {lq.shape[0]}x{lq.shape[1]} (so '
                             f'SR should be {hr_shape[0]}x{hr_shape[1]}), MSE-SR {item.sr_paths["mse"]} is '
                             f'{sr_mse.shape[0]}x{sr_mse.shape[1]}, GAN-SR {item.sr_paths["gan"]} is '
                             f'{sr_gan.shape[0]}x{sr_gan.shape[1]}')
        gt = pseudo_gt_image(sr_mse, sr_gan, mask, self.settings.feather_sigma)
        mask_img = mask.astype(np.uint8) * 255
        for window, name in zip(windows, self._names[item.name]):
            write_image(os.path.join(self.run_root, 'lq', name), window.crop(lq))
            write_image(os.path.join(self.run_root, 'gt', name), window.crop(gt, scale))
            write_image(os.path.join(self.run_root, 'mask', name), window.crop(mask_img, scale))

    def run(self):
        """Build the dataset and ``meta_info.txt``; return the exit status (0, or 1 when an image failed)."""
        self.discard_stale_samples()
        chosen = self.select()
        self.failures += run_batch(chosen, self.process, self.is_done, self.opt, self.logger, 'build')
        failed = {failure.name for failure in self.failures}
        built = [item for item in chosen if item.name not in failed]
        self.samples = sorted(name for item in built for name in self._names[item.name])
        meta_info = os.path.join(self.run_root, 'meta_info.txt')
        write_text(meta_info, ''.join(f'{name}\n' for name in self.samples))
        self.logger.info(f'{len(self.samples)} samples from {len(built)} images in {self.run_root} '
                         f'(lq/, gt/, mask/), listed in {meta_info}')
        return finish(self.failures, self.opt, self.logger)
