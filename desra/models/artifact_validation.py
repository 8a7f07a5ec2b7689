"""Validation while fine-tuning: how much artifact area DeSRA's detector (Stage 1) still finds, and whether the
generator is still as realistic as the original GAN.

For each held-out LR image of a validation dataset (basicsr's ``SingleImageDataset``: ``lq`` (1, 3, h, w) RGB [0, 1]
and ``lq_path``), the current generator's SR result is compared with the image's MSE-SR by
:class:`desra.detection.ArtifactDetector`. The MSE-SR comes from

* the validation dataset's folder ``dataroot_mse`` (the file with the LR image's relative stem, any extension, of
  size scale x LR), or else
* the MSE network ``network_mse`` with weights ``path:pretrain_network_mse`` (``path:param_key_mse``, default auto),
  run once per image and kept in memory for the later validations.

Realism (:mod:`desra.metrics.realism`): the current generator's result is also compared with the *original* GAN's
result of the same image, made once by a frozen copy of the generator as it was when the model was built (the
``pretrain_network_g`` weights, before any training step), together with its artifact mask, its NIQE and the MSE-SR's
NIQE, and kept (in memory, and as PNG in ``<experiments_root>/val_original/<dataset>/<img>.png`` so that a resumed
run, whose generator is no longer the original, reads them back). Per image: NIQE of the current result, detail
retention outside both masks (current / original) and the verdict (``kept`` / ``softened`` / ``collapsed``); NIQE is
NaN on results smaller than 192x96 px and the verdict then rests on detail alone. A run resumed before the first
validation had no original results to keep: it logs that its realism figures are unavailable.

Removal (:mod:`desra.metrics.finetune_metrics`, as the test command measures it): the current result's mask against
the original GAN's mask of the same image (removal and addition rates) and the texture-difference reduction inside
the original's mask (``D = 1 - c`` of the contrast maps against the MSE-SR).

Logged per validation: the total number of artifact pixels and their fraction of all SR pixels (also to tensorboard
as ``metrics/<dataset>/artifact_pixels`` and ``artifact_fraction``), the pooled removal and addition rates and
texture reduction (tensorboard: ``removal_rate``, ``addition_rate``, ``texture_reduction``), and the realism
summary: mean NIQE of the
original, MSE and current results, mean and lowest detail retention, the verdicts (tensorboard:
``metrics/<dataset>/niqe``, ``detail_retention``, ``min_detail_retention``, ``collapsed_images``); with
``val:save_img``, each image's figures too, and its SR result and mask in ``visualization/<img>/<img>_<iter>.png``
and ``<img>_<iter>_artifacts.png``.

Options (``val:``): ``val_freq``, ``save_img``, ``detector`` (the ``detector:`` options of the detect command),
``tile`` and ``tile_pad`` (SR in tiles of that many LR pixels; 0 = whole images), ``realism: {niqe_margin,
min_retention}`` (the verdict's thresholds, as in the test command), ``select`` (the checkpoint selection of
:mod:`desra.training.selection`, which reads the figures :meth:`ArtifactAreaValidator.validate` returns).
"""
import math
import os

import numpy as np
from basicsr.utils import get_root_logger

from desra.batch.progress import progress_bar
from desra.detection import ArtifactDetector
from desra.inference import TiledUpsampler, build_upsampler
from desra.io.images import load_rgb255, write_image
from desra.io.names import index_images, stem_of
from desra.metrics.finetune_metrics import score_finetune, summarize_finetune
from desra.metrics.realism import format_figure, niqe_score, realism_options, score_realism, summarize_realism

#: The figures of a validation that :meth:`ArtifactAreaValidator.validate` returns beyond the artifact area (keys of
#: :func:`~desra.metrics.finetune_metrics.summarize_finetune` and :func:`~desra.metrics.realism.summarize_realism`).
VALIDATION_FIGURES = ('removal_rate', 'addition_rate', 'texture_reduction', 'mean_niqe_gan', 'mean_niqe_mse',
                      'mean_niqe_finetuned', 'mean_detail_retention', 'min_detail_retention', 'realism')
#: The per-image figures of a validation: three of the image's ``FinetuneImageScore``, then of its realism scores.
PER_IMAGE_FIGURES = ('removal_rate', 'addition_rate', 'texture_reduction', 'detail_retention', 'niqe_finetuned',
                     'realism')


def to_rgb255(rgb):
    """Float RGB in [0, 1] (H, W, 3) -> float64 RGB on the 0..255 scale, rounded as an 8-bit image file would be."""
    return np.round(np.clip(rgb, 0, 1) * 255.0).astype(np.float64)


def realism_text(niqe, retention, verdict):
    """Realism figures as a part of a log line.

    Args:
        niqe (tuple[float]): NIQE of the original GAN, MSE-SR and current results (NaN: undefined).
        retention (str): Detail retention, as text.
        verdict (str): The realism verdict.
    """
    niqe_text = ' / '.join(format_figure(value, 2) for value in niqe)
    return f'NIQE original GAN / MSE / current {niqe_text}, detail retention {retention}: {verdict}'


class ArtifactAreaValidator:
    """Measures the detected artifact area of a generator's results on validation LR images (module docstring).

    Args:
        opt (dict): The training options (``scale``, ``val``, ``datasets``, ``network_mse``, ``path``).
        device (torch.device): Where the networks run.
        original_net (nn.Module | None): A frozen generator with the original weights (used as it is: it must not
            train), which makes the original GAN results at the first validation. None: those results come from
            the disk cache only (the other ranks, and a resumed run).

    Raises:
        ValueError: A validation dataset has neither ``dataroot_mse`` nor ``network_mse`` to get MSE-SR from, or
            ``val:realism`` is not valid.
        KeyError / FileNotFoundError: ``network_mse`` without its weights (from ``build_upsampler``).
    """

    def __init__(self, opt, device, original_net=None):
        self.opt = opt
        self.device = device
        self.scale = opt['scale']
        val_opt = opt['val']
        self.tile, self.tile_pad = val_opt.get('tile', 0), val_opt.get('tile_pad', 10)
        self.detector = ArtifactDetector(val_opt.get('detector', {}), device)
        val_datasets = [d for phase, d in opt['datasets'].items() if phase.split('_')[0] == 'val']
        self.mse_upsampler = None
        if 'network_mse' in opt:
            tile_opt = {'tile_size': self.tile, 'tile_pad': self.tile_pad}
            self.mse_upsampler = build_upsampler(opt, 'mse', device, tile_opt=tile_opt)
        elif any(not d.get('dataroot_mse') for d in val_datasets):
            raise ValueError('validation needs MSE-SR images: set datasets:val:dataroot_mse, or network_mse with '
                             'path:pretrain_network_mse')
        self.mse_cache = {}
        self.mse_indexes = {}  # dataroot_mse -> {name: path}, listed once
        self.realism_opt = realism_options(val_opt.get('realism'), 'val:realism')
        self.original_upsampler = None
        if original_net is not None:
            self.original_upsampler = TiledUpsampler(original_net, self.scale, self.tile, self.tile_pad,
                                                     device=device)
        experiments_root = opt['path'].get('experiments_root')
        self.original_root = os.path.join(experiments_root, 'val_original') if experiments_root else None
        self.originals = {}  # lq_path -> the original GAN result, its mask and the reference NIQEs
        self.unvalidated = {d['name'] for d in val_datasets}  # datasets whose originals are still to be made

    def forget_original_generator(self):
        """Drop the copy of the generator: it is not the original (a resumed run); originals come from disk."""
        self.original_upsampler = None

    def mse_sr(self, dataset_opt, lq_path, lq):
        """The MSE-SR of one LR image, float64 (H, W, 3) RGB 0..255 (read from ``dataroot_mse`` or computed once)."""
        if lq_path not in self.mse_cache:
            if dataset_opt.get('dataroot_mse'):
                root = dataset_opt['dataroot_mse']
                stem = stem_of(os.path.relpath(lq_path, dataset_opt['dataroot_lq']))
                if root not in self.mse_indexes:
                    self.mse_indexes[root] = index_images(root, 'MSE-SR')
                index = self.mse_indexes[root]
                if stem not in index:
                    raise FileNotFoundError(f'{lq_path}: no MSE-SR {stem}.* in dataroot_mse {root}')
                self.mse_cache[lq_path] = load_rgb255(index[stem])
            else:
                self.mse_cache[lq_path] = to_rgb255(self.mse_upsampler.upscale_rgb(lq))
        return self.mse_cache[lq_path]

    def original(self, dataset_opt, lq_path, lq, mse):
        """The original GAN's result of one LR image and what the realism figures need of it, made once.

        Returns:
            dict | None: ``gan`` (float64 (H, W, 3) RGB 0..255), ``before`` (its bool artifact mask), ``contrast``
            (its valid-mode contrast map against the MSE-SR) and ``niqe`` (``{'gan': ..., 'mse': ...}``); None when
            neither the disk cache nor the original generator has it.
        """
        if lq_path not in self.originals:
            path = None
            if self.original_root:
                stem = stem_of(os.path.relpath(lq_path, dataset_opt['dataroot_lq']))
                path = os.path.join(self.original_root, dataset_opt['name'], f'{stem}.png')
            if path and os.path.isfile(path):
                gan = load_rgb255(path)
            elif self.original_upsampler is not None:
                gan = to_rgb255(self.original_upsampler.upscale_rgb(lq))
                if path:
                    write_image(path, gan[..., ::-1].astype(np.uint8))
            else:
                return None
            result = self.detector.detect(mse, gan)
            self.originals[lq_path] = {'gan': gan, 'before': result.mask, 'contrast': result.contrast,
                                       'niqe': {'gan': niqe_score(gan), 'mse': niqe_score(mse)}}
        return self.originals[lq_path]

    def validate(self, net, dataloader, current_iter, tb_logger, save_img):
        """Run the validation of ``net`` on one dataset and log the figures.

        Args:
            net (nn.Module): The generator (left in eval mode).
            dataloader (DataLoader): Batches of one LR image (``lq``, ``lq_path``).
            current_iter (int): Iteration, for the log and the image names.
            tb_logger (SummaryWriter | None): Tensorboard writer.
            save_img (bool): Also log each image and save its SR result and mask.

        Returns:
            dict: ``artifact_pixels`` (total), ``artifact_fraction`` (of all SR pixels), ``images`` (the validated
            image names, relative to ``dataroot_lq`` without extension), the figures of :data:`VALIDATION_FIGURES`
            against the original GAN (NaN, or ``n/a`` for ``realism``, when its results were not kept) and
            ``per_image``: ``{'image': name, <PER_IMAGE_FIGURES>}`` per image that has them.
        """
        logger = get_root_logger()
        dataset_opt = dataloader.dataset.opt
        upsampler = TiledUpsampler(net, self.scale, self.tile, self.tile_pad, device=self.device)
        artifact_pixels = total_pixels = 0
        realism, removal, names, per_image = [], [], [], []
        for data in progress_bar(dataloader, f'validation {dataset_opt["name"]}', 'img', leave=False):
            lq_path = data['lq_path'][0]
            lq = data['lq'][0].permute(1, 2, 0).numpy()
            sr = to_rgb255(upsampler.upscale_rgb(lq))
            mse = self.mse_sr(dataset_opt, lq_path, lq)
            if mse.shape != sr.shape:
                raise ValueError(f'{lq_path}: the MSE-SR is {mse.shape[1]}x{mse.shape[0]} but the SR result is '
                                 f'{sr.shape[1]}x{sr.shape[0]} (WxH)')
            result = self.detector.detect(mse, sr)
            mask = result.mask
            count = int(mask.sum())
            name = os.path.splitext(os.path.basename(lq_path))[0]
            names.append(stem_of(os.path.relpath(lq_path, dataset_opt['dataroot_lq'])))
            artifact_pixels += count
            total_pixels += mask.size
            original = self.original(dataset_opt, lq_path, lq, mse)
            scores = None
            if original is not None:
                scores = score_realism(original['gan'], mse, sr, ~(mask | original['before']),
                                       known_niqe=original['niqe'], **self.realism_opt)
                realism.append(scores)
                removal.append(score_finetune(names[-1], original['before'], mask, original['gan'], sr,
                                              before_contrast=original['contrast'], after_contrast=result.contrast))
                per_image.append({'image': names[-1], **{key: getattr(removal[-1], key) for key in PER_IMAGE_FIGURES[
                    :3]}, **{key: scores[key] for key in PER_IMAGE_FIGURES[3:]}})
            if save_img:
                folder = os.path.join(self.opt['path']['visualization'], name)
                write_image(os.path.join(folder, f'{name}_{current_iter}.png'), sr[..., ::-1].astype(np.uint8))
                write_image(os.path.join(folder, f'{name}_{current_iter}_artifacts.png'), mask.astype(np.uint8) * 255)
                image_realism = '' if scores is None else '; ' + realism_text(
                    [scores[f'niqe_{role}'] for role in ('gan', 'mse', 'finetuned')],
                    f'{format_figure(scores["detail_retention"])} '
                    f'(MSE-SR {format_figure(scores["mse_detail_retention"])})',
                    scores['realism'])
                logger.info(f'\t{name}: {count} artifact pixels ({count / mask.size:.4%}){image_realism}')
        fraction = artifact_pixels / max(total_pixels, 1)
        name = dataset_opt['name']
        logger.info(f'Validation {name}, iter {current_iter}: {artifact_pixels} artifact pixels '
                    f'({fraction:.4%} of the SR pixels)')
        summary = summarize_realism(realism) if realism else None
        removal_summary = summarize_finetune(removal) if removal else None
        if removal_summary:
            logger.info(f'Validation {name}, iter {current_iter}: removal rate '
                        f'{format_figure(removal_summary["removal_rate"])}, addition rate '
                        f'{format_figure(removal_summary["addition_rate"])}, texture-difference reduction '
                        f'{format_figure(removal_summary["texture_reduction"])} (against the original GAN)')
        if summary:
            retention = (f'mean {format_figure(summary["mean_detail_retention"])}, min '
                         f'{format_figure(summary["min_detail_retention"])} (MSE-SR mean '
                         f'{format_figure(summary["mean_mse_detail_retention"])})')
            logger.info(f'Validation {name}, iter {current_iter}, means: ' + realism_text(
                [summary[f'mean_niqe_{role}'] for role in ('gan', 'mse', 'finetuned')], retention, summary['realism']))
        else:
            logger.info(f'Validation {name}: no realism figures (the original GAN results were not kept before this '
                        f'run was resumed)')
        if tb_logger:
            tb_logger.add_scalar(f'metrics/{name}/artifact_pixels', artifact_pixels, current_iter)
            tb_logger.add_scalar(f'metrics/{name}/artifact_fraction', fraction, current_iter)
            for key in ('removal_rate', 'addition_rate', 'texture_reduction'):
                if removal_summary:
                    tb_logger.add_scalar(f'metrics/{name}/{key}', removal_summary[key], current_iter)
            if summary:
                for key, tag in (('mean_niqe_finetuned', 'niqe'), ('mean_detail_retention', 'detail_retention'),
                                 ('min_detail_retention', 'min_detail_retention'),
                                 ('realism_collapsed', 'collapsed_images')):
                    tb_logger.add_scalar(f'metrics/{name}/{tag}', summary[key], current_iter)
        self.unvalidated.discard(name)
        if not self.unvalidated:  # every original result is kept: the copy of the generator is no longer needed
            self.original_upsampler = None
        figures = {**(removal_summary or {}), **(summary or {})}
        return {'artifact_pixels': artifact_pixels, 'artifact_fraction': fraction, 'images': names,
                'per_image': per_image,
                **{key: figures.get(key, 'n/a' if key == 'realism' else math.nan) for key in VALIDATION_FIGURES}}
