"""A reference twin: a PSNR-oriented model derived from a GAN-SR model that has no MSE parent.

DeSRA compares a GAN model's output with its MSE parent's. For a GAN checkpoint without one, ``ReferenceTwinModel``
makes a stand-in: the same network, started from the GAN's weights, trained with a pixel loss only (``pixel_opt``,
L1) on LR / HR pairs synthesised on the fly from HR photos with Real-ESRGAN's second-order degradation. That is how
the paper's parents relate to their GANs (RealESRNet -> RealESRGAN), run backwards: a pixel loss drives the network
towards the conditional mean and drops the texture it painted where the LR does not decide it.

It is basicsr 1.4.2's ``RealESRNetModel`` (the degradation of ``feed_data``, the training-pair pool, ``SRModel``'s
training step, EMA, optimizers and schedulers), with ``datasets: train: type: ReferenceTwinDataset`` as its data, and:

* runs on the CPU: basicsr puts its JPEG simulator, USM sharpener and pair pool on CUDA (``.cuda()``); here they go
  to the model's device (:meth:`__init__`, :meth:`_dequeue_and_enqueue`);
* ``network_g: {type: auto}`` (any architecture spandrel builds, scale from the checkpoint) or a basicsr network;
* ``train: twin_mode``: ``whole`` (every parameter trained, a new degradation every iteration: thorough) or ``tail``
  (only ``train: trained_params`` (regular expressions, ``re.match``; default: the last ``train: tail_fraction``
  = 0.1 of the parameters), with the frozen body's features computed once on ``train: feature_pool`` degraded HR
  images and LR crops of them drawn every iteration: fast on a CPU; :mod:`desra.archs.frozen_features`);
* validation (``val: val_freq``, ``datasets: val: type: ReferenceTwinDataset`` with ``dataroot_lq`` /
  ``dataroot_gt``): PSNR against HR of the twin (the EMA weights when kept), of the GAN itself (``net_g`` as loaded
  from ``path: pretrain_network_g``, measured once before training, :meth:`gan_validation_psnr`) and of bicubic
  upsampling, and the detail of the twin's output over the GAN's (``detail_vs_gan``), all logged (tensorboard
  ``metrics/<dataset>/psnr``, ``psnr_gan``, ``psnr_bicubic``, ``detail_vs_gan``). The gain over
  the GAN says whether the twin moved towards a PSNR-oriented model (bicubic can beat even a true one on mildly
  degraded LR images); a twin no better than the GAN, and one below bicubic, are said plainly in the log and in the
  end-of-run summary (:meth:`end_of_run`), as are the HR images and validation pairs skipped (unreadable, smaller
  than ``gt_size``, an HR not ``scale`` times its LR: the run goes on with the others);
* checkpoints ``net_g_<iter>.pth`` in Real-ESRGAN's format (``params``, ``params_ema``; a detected network under its
  checkpoint's tensor names), so ``network_mse: {type: auto}`` takes them as they are, with a ``reference`` record
  (``kind: twin``, ``twin_of``: the GAN checkpoint) that detection reports; in tail mode also ``tail_<iter>.pth``,
  the trained tensors alone in fp16 (``{'params': ...}``), which :func:`desra.weights.compose.compose_checkpoint`
  puts back on the GAN checkpoint;
* the training state (:meth:`training_state`) holds the optimizers, schedulers, weights, the pair pool and the GAN's
  validation PSNR, so ``--auto_resume`` continues exactly and still compares the twin with the original GAN.
"""
import json
import os
import random

import cv2
import numpy as np
import torch
from basicsr.data import build_dataset
from basicsr.metrics.psnr_ssim import calculate_psnr
from basicsr.models.realesrnet_model import RealESRNetModel
from basicsr.models.sr_model import SRModel
from basicsr.utils import DiffJPEG, USMSharp, get_root_logger, tensor2img
from basicsr.utils.dist_util import master_only
from basicsr.utils.registry import MODEL_REGISTRY

from desra.archs.auto_arch import AUTO_TYPE, check_scale, checkpoint_state_dict, resolve_network_opt
from desra.archs.frozen_features import FrozenFeatures, select_trained_params
from desra.data.reference_twin_dataset import TwinValidationPairs
from desra.metrics.realism import laplacian_detail
from desra.models.desra_model import DeSRAModel
from desra.io.images import write_text
from desra.weights.checkpoint import cpu_state_dict, save_checkpoint_file, save_network_file

#: Real-ESRGAN's degradation settings of its RealESRNet x4plus training (the model's top-level options).
REAL_ESRGAN_DEGRADATION = {
    'gt_usm': True, 'queue_size': 180,
    'resize_prob': [0.2, 0.7, 0.1], 'resize_range': [0.15, 1.5], 'gaussian_noise_prob': 0.5,
    'noise_range': [1, 30], 'poisson_scale_range': [0.05, 3], 'gray_noise_prob': 0.4, 'jpeg_range': [30, 95],
    'second_blur_prob': 0.8, 'resize_prob2': [0.3, 0.4, 0.3], 'resize_range2': [0.3, 1.2],
    'gaussian_noise_prob2': 0.5, 'noise_range2': [1, 25], 'poisson_scale_range2': [0.05, 2.5],
    'gray_noise_prob2': 0.4, 'jpeg_range2': [30, 95],
}
#: ``train: twin_mode`` values.
TWIN_MODES = ('whole', 'tail')


def output_figures(net, lq, gt, scale):
    """PSNR (dB) against HR of ``net``'s output for one image (RGB uint8, ``scale`` border pixels cropped: basicsr's
    ``calculate_psnr``) and the output's detail (:func:`desra.metrics.laplacian_detail`, grey levels per pixel).

    Args:
        net (nn.Module): The generator, in eval mode.
        lq (Tensor): (1, 3, h, w) LR image, RGB in [0, 1], on ``net``'s device.
        gt (Tensor): (1, 3, scale*h, scale*w) HR image, RGB in [0, 1].
        scale (int): The upscaling factor.

    Returns:
        tuple[float, float]: ``(psnr, detail)``.
    """
    out = tensor2img(net(lq).clamp(0, 1))  # BGR uint8
    return calculate_psnr(out, tensor2img(gt), crop_border=scale), laplacian_detail(out[:, :, ::-1])


def detail_text(value):
    """A detail ratio for the log: ``0.45``, or ``n/a`` when unknown (None)."""
    return 'n/a' if value is None else f'{value:.2f}'


def db_text(value):
    """A PSNR for the log: ``25.43 dB``, or ``n/a`` when unknown (None)."""
    return 'n/a' if value is None else f'{value:.2f} dB'


def reference_record(opt):
    """What a twin checkpoint says of itself: ``{'kind': 'twin', 'twin_of': <GAN checkpoint>, 'twin_mode': ...}``."""
    return {'kind': 'twin', 'twin_of': str(opt['path'].get('pretrain_network_g') or ''),
            'twin_mode': opt['train'].get('twin_mode', 'whole')}


@MODEL_REGISTRY.register()
class ReferenceTwinModel(RealESRNetModel):
    """Pixel-loss training of a GAN checkpoint into its reference twin (module docstring).

    Training data: ``gt`` (N, 3, 400, 400) HR crops with Real-ESRGAN's kernels (``ReferenceTwinDataset``), degraded
    here into ``lq`` (N, 3, gt_size/scale, gt_size/scale) / ``gt`` (N, 3, gt_size, gt_size) pairs, RGB in [0, 1].
    """

    # DeSRA's weight loading (type: auto, weights_only, readable mismatches) and torch.optim optimizers by name
    load_network = DeSRAModel.load_network
    get_optimizer = DeSRAModel.get_optimizer

    def __init__(self, opt):
        for key, value in REAL_ESRGAN_DEGRADATION.items():
            opt.setdefault(key, value)
        opt['gt_size'] = opt['datasets']['train']['gt_size']  # basicsr's RealESRNetModel reads it at the top level
        opt['network_g'] = resolve_network_opt(opt, 'g')
        if opt['network_g'].get('type') == AUTO_TYPE:
            opt['path'].setdefault('param_key_g', opt['network_g']['param_key'])
        self.twin_mode = opt['train'].get('twin_mode', 'whole')
        if self.twin_mode not in TWIN_MODES:
            raise ValueError(f'train:twin_mode must be one of {", ".join(TWIN_MODES)}, got {self.twin_mode!r}')
        self.frozen, self.pool, self.validation_results, self.gan_psnr = None, None, {}, {}
        self.reference = reference_record(opt)  # a resumed run has no pretrain_network_g: its state holds this
        # basicsr's RealESRNetModel.__init__ is SRModel's plus these three, which it puts on CUDA whatever num_gpu
        # says; here they go to the model's device
        SRModel.__init__(self, opt)
        self.jpeger = DiffJPEG(differentiable=False).to(self.device)
        self.usm_sharpener = USMSharp().to(self.device)
        self.queue_size = opt['queue_size']
        check_scale(self.get_bare_model(self.net_g), opt.get('scale'), 'g')
        # net_g holds the GAN's weights only on a fresh start (desra/train.py resumes with no pretrain_network_g:
        # the state holds the weights, and the GAN's PSNR, resume_training)
        if opt['path'].get('pretrain_network_g') and opt.get('val') is not None and opt['rank'] == 0:
            self.gan_psnr = self.gan_validation_psnr()

    def init_training_settings(self):
        net = self.get_bare_model(self.net_g)
        if self.twin_mode == 'tail':
            trained = select_trained_params(net, self.opt['train'].get('trained_params'),
                                            self.opt['train'].get('tail_fraction', 0.1))
            self.frozen = FrozenFeatures(net)
            size = self.opt['gt_size'] // self.opt['scale']
            self.frozen.probe(torch.zeros(1, 3, size, size, device=self.device))
            total = sum(p.numel() for p in net.parameters())
            count = sum(p.numel() for p in net.parameters() if p.requires_grad)
            get_root_logger().info(f'twin_mode tail: {count} of {total} parameters trained ({len(trained)} tensors, '
                                   f'{trained[0]} ... {trained[-1]}); features of {", ".join(self.frozen.needed)} '
                                   'computed once per pool image')
        super().init_training_settings()

    def setup_optimizers(self):
        """``optim_g`` over the trained parameters (basicsr's logs one warning per frozen tensor instead; the tail
        mode's line above counts them)."""
        optim_opt = dict(self.opt['train']['optim_g'])
        params = [p for p in self.net_g.parameters() if p.requires_grad]
        self.optimizer_g = self.get_optimizer(optim_opt.pop('type'), params, **optim_opt)
        self.optimizers.append(self.optimizer_g)

    # ------------------------------------------------------------------ data
    @torch.no_grad()
    def _dequeue_and_enqueue(self):
        """basicsr's training-pair pool, its tensors made on the model's device (basicsr makes them with .cuda())."""
        if self.pool is None and self.frozen is not None:  # the pool of tail mode is being made: no pair pool
            return
        if not hasattr(self, 'queue_lr'):
            (_, c, h, w), (_, c_gt, h_gt, w_gt) = self.lq.size(), self.gt.size()
            if self.queue_size % self.lq.size(0):
                raise ValueError(f'queue_size {self.queue_size} must be a multiple of the batch size '
                                 f'{self.lq.size(0)} (datasets:train:batch_size_per_gpu)')
            self.queue_lr = torch.zeros(self.queue_size, c, h, w, device=self.device)
            self.queue_gt = torch.zeros(self.queue_size, c_gt, h_gt, w_gt, device=self.device)
            self.queue_ptr = 0
        super()._dequeue_and_enqueue()

    def feed_data(self, data):
        if self.twin_mode == 'tail' and self.is_train:
            if self.pool is None:
                self.pool = self.degraded_pool()
            self.draw_from_pool(data['gt'].size(0))
        else:
            super().feed_data(data)

    def degraded_pool(self):
        """``train: feature_pool`` (default 32) degraded training images with their frozen features, computed once:
        a list of ``(lq (1, 3, h, w), gt (1, 3, scale*h, scale*w), {module: (1, C, h, w)})``.

        The images are the training dataset's (in turn), degraded by :meth:`feed_data`'s second-order degradation
        under the seed ``manual_seed``, so a resumed run rebuilds the same pool; the global random states are left
        as they were."""
        dataset = build_dataset(self.opt['datasets']['train'])
        count = int(self.opt['train'].get('feature_pool', 32))
        states = random.getstate(), np.random.get_state(), torch.get_rng_state()
        seed = int(self.opt.get('manual_seed') or 0)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        pool, gt_size = [], self.opt['gt_size']
        try:
            for index in range(count):
                sample = dataset[index % len(dataset)]
                batch = {key: value[None] for key, value in sample.items() if torch.is_tensor(value)}
                self.opt['gt_size'] = batch['gt'].size(-1)  # the whole degraded image: crops are drawn later
                RealESRNetModel.feed_data(self, batch)
                pool.append((self.lq, self.gt, self.frozen.compute(self.lq)))
        finally:
            self.opt['gt_size'] = gt_size
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.set_rng_state(states[2])
        get_root_logger().info(f'twin_mode tail: {count} degraded images in the pool, their frozen features computed')
        return pool

    def draw_from_pool(self, batch_size):
        """A batch of ``batch_size`` random LR crops of ``gt_size / scale`` pixels of pool images, their HR crops and
        the same crops of their features (``self.lq``, ``self.gt``, ``self.features``), drawn from torch's random
        state."""
        scale, side = self.opt['scale'], self.opt['gt_size'] // self.opt['scale']
        lqs, gts, features = [], [], []
        for index in torch.randint(len(self.pool), (batch_size,)).tolist():
            lq, gt, feature = self.pool[index]
            top = int(torch.randint(lq.size(2) - side + 1, ()))
            left = int(torch.randint(lq.size(3) - side + 1, ()))
            lqs.append(lq[:, :, top:top + side, left:left + side])
            gts.append(gt[:, :, top * scale:(top + side) * scale, left * scale:(left + side) * scale])
            features.append({name: value[:, :, top:top + side, left:left + side] for name, value in feature.items()})
        self.lq, self.gt = torch.cat(lqs), torch.cat(gts)
        self.features = {name: torch.cat([f[name] for f in features]) for name in features[0]}

    # ------------------------------------------------------------------ training
    def optimize_parameters(self, current_iter):
        """``SRModel``'s step (pixel loss, EMA); in tail mode with the frozen modules answering from the pool."""
        if self.frozen is None:
            return super().optimize_parameters(current_iter)
        with self.frozen.replaying(self.features):
            return super().optimize_parameters(current_iter)

    def generator_for_inference(self):
        """The EMA copy when kept, else the bare ``net_g``."""
        return self.net_g_ema if hasattr(self, 'net_g_ema') else self.get_bare_model(self.net_g)

    @torch.no_grad()
    def gan_validation_psnr(self):
        """The GAN's own PSNR against HR on each validation set (``datasets: val*``), measured once, at the start of
        a fresh run, with ``net_g`` as loaded from ``path: pretrain_network_g``: evaluating it before any training
        costs one pass over the validation images and keeps no copy of its weights (a copy for the first
        validation would hold them in memory until then, and in every training state saved before it).

        Returns:
            dict: ``{dataset name: {'psnr': mean PSNR in dB, 'detail': mean detail of the output (as
            :meth:`nondist_validation`), 'images': the LR paths, in order}}``; the paths tell a resumed run whether
            its validation images are those measured.
        """
        net, scale, figures = self.get_bare_model(self.net_g), self.opt['scale'], {}
        net.eval()
        for phase, dataset_opt in self.opt['datasets'].items():
            if phase.split('_')[0] != 'val':
                continue
            dataset, psnrs, details, paths = build_dataset(dataset_opt), [], [], []
            with torch.no_grad():
                for index in range(len(dataset)):
                    sample = dataset[index]
                    psnr, detail = output_figures(net, sample['lq'][None].to(self.device), sample['gt'][None], scale)
                    psnrs.append(psnr)
                    details.append(detail)
                    paths.append(sample['lq_path'])
            figures[dataset.name] = {'psnr': float(np.mean(psnrs)), 'detail': float(np.mean(details)), 'images': paths}
            get_root_logger().info(f'The GAN before training ({self.opt["path"]["pretrain_network_g"]}): PSNR '
                                   f'against HR {figures[dataset.name]["psnr"]:.2f} dB on {dataset.name} '
                                   f'({len(psnrs)} images)')
        net.train()
        return figures

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """PSNR against HR (RGB, ``scale`` border pixels cropped) of the twin's output and of bicubic upsampling
        (OpenCV), means over the validation images, beside the GAN's (:meth:`gan_validation_psnr`; None when the
        state a run resumed from has none for these images), and ``detail_vs_gan``: the mean detail of the twin's
        output over the GAN's (:func:`desra.metrics.laplacian_detail`; a PSNR-oriented twin paints less texture:
        below 1; the demo's MSE model keeps 0.33 of RealESRGAN_x4plus's); logged, and kept for :meth:`end_of_run`."""
        net, scale = self.generator_for_inference(), self.opt['scale']
        name = dataloader.dataset.name
        net.eval()
        twin, details, bicubic, paths = [], [], [], []
        with torch.no_grad():
            for data in dataloader:
                psnr, detail = output_figures(net, data['lq'].to(self.device), data['gt'], scale)
                twin.append(psnr)
                details.append(detail)
                lq_img = tensor2img(data['lq'])
                up = cv2.resize(lq_img, (lq_img.shape[1] * scale, lq_img.shape[0] * scale),
                                interpolation=cv2.INTER_CUBIC)
                bicubic.append(calculate_psnr(up, tensor2img(data['gt']), crop_border=scale))
                paths += list(data['lq_path'])
        self.net_g.train()
        gan = self.gan_psnr.get(name)
        measured = gan is not None and gan['images'] == paths
        psnr_gan = gan['psnr'] if measured else None
        detail_gan = gan.get('detail') if measured else None
        result = {'iter': current_iter, 'images': len(twin), 'psnr': float(np.mean(twin)), 'psnr_gan': psnr_gan,
                  'psnr_bicubic': float(np.mean(bicubic)),
                  'detail_vs_gan': float(np.mean(details)) / detail_gan if detail_gan else None}
        result['worse_than_bicubic'] = result['psnr'] < result['psnr_bicubic']
        result['no_gain_over_gan'] = None if psnr_gan is None else result['psnr'] <= psnr_gan
        self.validation_results[name] = result
        logger = get_root_logger()
        logger.info(f'Validation {name} @ iter {current_iter}: PSNR against HR: twin {result["psnr"]:.2f} dB, '
                    f'GAN {db_text(psnr_gan)}, bicubic {result["psnr_bicubic"]:.2f} dB; detail of the output '
                    f'{detail_text(result["detail_vs_gan"])} of the GAN\'s ({len(twin)} images)')
        if psnr_gan is None:
            logger.warning(f"the GAN's PSNR on {name} is unknown: it is measured once, before training, and the state "
                           f'this run resumed from has none for these {len(twin)} validation images (they changed, or '
                           'the state is older); the twin is compared with bicubic only')
        elif result['no_gain_over_gan']:
            logger.warning(f'the twin is no closer to the HR than the GAN itself: {result["psnr"]:.2f} <= '
                           f'{psnr_gan:.2f} dB on {name}; it has not moved towards a PSNR-oriented model: do not use '
                           'it as network_mse; train longer (train:total_iter), at a learning rate that moves it '
                           '(train:optim_g:lr), or more of it (twin_mode: whole)')
        if result['worse_than_bicubic']:
            gain = '' if psnr_gan is None else f' ({result["psnr"] - psnr_gan:+.2f} dB over the GAN)'
            logger.warning(f'the twin is WORSE than bicubic upsampling on {name} ({result["psnr"]:.2f} < '
                           f'{result["psnr_bicubic"]:.2f} dB){gain}: bicubic can beat even a true PSNR-oriented model '
                           'on mildly degraded LR images, but a closer reference trains longer (train:total_iter), or '
                           'more of it (twin_mode: whole)')
        if tb_logger is not None:
            tb_logger.add_scalar(f'metrics/{name}/psnr', result['psnr'], current_iter)
            if psnr_gan is not None:
                tb_logger.add_scalar(f'metrics/{name}/psnr_gan', psnr_gan, current_iter)
            tb_logger.add_scalar(f'metrics/{name}/psnr_bicubic', result['psnr_bicubic'], current_iter)
            if result['detail_vs_gan'] is not None:
                tb_logger.add_scalar(f'metrics/{name}/detail_vs_gan', result['detail_vs_gan'], current_iter)

    @master_only
    def end_of_run(self, train_set, val_sets=()):
        """Log the summary of the run and write it to ``<experiments_root>/reference_twin.json``: the checkpoint to
        use as ``network_mse``, what it is a twin of, the mode, the last validation PSNR of the twin, of the GAN and
        of bicubic upsampling (``validation``: :meth:`nondist_validation`'s records), whether the twin is no better
        than the GAN (``no_gain_over_gan``) or worse than bicubic, the number of HR images trained on
        (``hr_images``) and the skipped ones (``skipped_hr_images``: ``<path>: <problem>`` lines), and the skipped
        validation pairs (``skipped_val_pairs``: per validation set, one line per pair); a warning for each
        skipped file.

        Args:
            train_set (TwinTrainingImages): The training set of the run (its ``paths`` and ``skipped``).
            val_sets (list[Dataset]): The validation sets of the run; those of ``type: ReferenceTwinDataset``
                (:class:`TwinValidationPairs`) give their ``name``, ``lq_paths`` and ``skipped``.
        """
        val_sets = [val_set for val_set in val_sets if isinstance(val_set, TwinValidationPairs)]
        models = self.opt['path']['models']
        suffix = 'safetensors' if (self.opt.get('logger') or {}).get('save_checkpoint_format') == 'safetensors' \
            else 'pth'
        summary = {**self.reference, 'checkpoint': os.path.join(models, f'net_g_latest.{suffix}'),
                   'validation': self.validation_results,
                   'no_gain_over_gan': any(r['no_gain_over_gan'] for r in self.validation_results.values()),
                   'worse_than_bicubic': any(r['worse_than_bicubic'] for r in self.validation_results.values()),
                   'hr_images': len(train_set.paths), 'skipped_hr_images': train_set.skipped,
                   'skipped_val_pairs': {val_set.name: val_set.skipped for val_set in val_sets}}
        logger = get_root_logger()
        logger.info(f'Reference twin: {summary["checkpoint"]} (twin of {summary["twin_of"]}, {self.twin_mode} mode); '
                    'use it as network_mse: {type: auto}')
        for name, result in self.validation_results.items():
            twin, gan = result['psnr'], result['psnr_gan']
            gain = 'the GAN\'s PSNR unknown' if gan is None else f'{twin - gan:+.2f} dB over the GAN'
            logger.info(f'  {name}: PSNR twin {twin:.2f} dB, GAN {db_text(gan)}, bicubic {result["psnr_bicubic"]:.2f} '
                        f'dB: {gain}, {twin - result["psnr_bicubic"]:+.2f} dB against bicubic'
                        + (' (WORSE than bicubic)' if result['worse_than_bicubic'] else ''))
            if result['no_gain_over_gan']:
                logger.warning(f'  {name}: the twin is no closer to the HR than the GAN itself ({twin:.2f} <= '
                               f'{gan:.2f} dB): do not use it as a reference')
        if not self.validation_results:
            logger.warning('no validation ran (val: ~): the twin was not compared with the GAN or bicubic upsampling')
        for line in train_set.skipped:
            logger.warning(f'HR image skipped (the twin trained on the other {len(train_set.paths)}): {line}')
        for val_set in val_sets:
            for line in val_set.skipped:
                logger.warning(f'validation pair of {val_set.name} skipped (the twin was validated on the other '
                               f'{len(val_set.lq_paths)}): {line}')
        path = os.path.join(self.opt['path']['experiments_root'], 'reference_twin.json')
        write_text(path, json.dumps(summary, indent=2) + '\n')
        return summary

    # ------------------------------------------------------------------ files and state
    @master_only
    def save(self, epoch, current_iter):
        """Write ``net_g_<iter>`` (``params``, ``params_ema``, the ``reference`` record) and in tail mode
        ``tail_<iter>.pth`` (the trained tensors of the EMA weights, fp16)."""
        label = 'latest' if current_iter == -1 else current_iter
        nets = {'params': self.get_bare_model(self.net_g)}
        if hasattr(self, 'net_g_ema'):
            nets['params_ema'] = self.net_g_ema
        states = {key: checkpoint_state_dict(net) for key, net in nets.items()}
        stem = os.path.join(self.opt['path']['models'], f'net_g_{label}')
        if (self.opt.get('logger') or {}).get('save_checkpoint_format') == 'safetensors':
            save_network_file(states, stem, 'safetensors')
        else:
            save_checkpoint_file({**states, 'reference': self.reference}, f'{stem}.pth')
        if self.frozen is not None:
            net = self.get_bare_model(self.net_g)
            trained = [name for name, p in net.named_parameters() if p.requires_grad]
            detected = getattr(net, 'detected_arch', None)
            file_key = detected.checkpoint_keys.file_key_of if detected is not None else {}
            final = states.get('params_ema', states['params'])
            part = {file_key.get(name, name): final[file_key.get(name, name)].half() for name in trained}
            save_checkpoint_file({'params': part}, os.path.join(self.opt['path']['models'], f'tail_{label}.pth'))

    def training_state(self):
        """Optimizers, schedulers, ``net_g`` / ``net_g_ema`` weights, basicsr's training-pair pool, the GAN's
        validation PSNR (:meth:`gan_validation_psnr`) and the ``reference`` record (:func:`reference_record`: a
        resumed run is given no ``pretrain_network_g``), as CPU tensors and plain containers (``weights_only``
        loadable)."""
        state = {'optimizers': [o.state_dict() for o in self.optimizers],
                 'schedulers': [s.state_dict() for s in self.schedulers],
                 'net_g': cpu_state_dict(self.get_bare_model(self.net_g)), 'gan_psnr': self.gan_psnr,
                 'reference': self.reference}
        if hasattr(self, 'net_g_ema'):
            state['net_g_ema'] = cpu_state_dict(self.net_g_ema)
        if hasattr(self, 'queue_lr'):
            state['queue'] = {'lr': self.queue_lr.cpu(), 'gt': self.queue_gt.cpu(), 'ptr': self.queue_ptr}
        return state

    def resume_training(self, resume_state):
        """Restore what :meth:`training_state` saved."""
        super().resume_training(resume_state)
        self.get_bare_model(self.net_g).load_state_dict(resume_state['net_g'])
        if hasattr(self, 'net_g_ema'):
            self.net_g_ema.load_state_dict(resume_state['net_g_ema'])
        # a state saved before they were kept: the GAN's PSNR unknown, the record of this run's options
        self.gan_psnr = resume_state.get('gan_psnr', {})
        self.reference = resume_state.get('reference', self.reference)
        if 'queue' in resume_state:
            queue = resume_state['queue']
            self.queue_lr, self.queue_gt = queue['lr'].to(self.device), queue['gt'].to(self.device)
            self.queue_ptr = queue['ptr']
