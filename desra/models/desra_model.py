"""DeSRA's mask-guided GAN fine-tuning: Real-ESRGAN's GAN training on (LR, pseudo-GT, artifact mask) triples.

The DeSRA paper fine-tunes a GAN-SR model on real LR images whose targets are pseudo-GTs (the model's own GAN-SR
with the detected artifact regions replaced by the MSE-SR, built by ``DeSRADataset``), with the losses the model was
trained with. :class:`DeSRAModel` does that in the manner of Real-ESRGAN's ``RealESRGANModel`` (basicsr's
``SRGANModel`` without on-the-fly degradation: the LR comes from the dataset) and adds mask guidance.

Generator loss (terms present when their option is set)::

    l_g = pixel_opt(y, t) + masked_pixel_opt(y, t, m) + perceptual_opt(y, t'; W_p) + gan_opt(D(y), real; W_g)

with ``y = net_g(lq)``, ``m`` the (N, 1, H, W) artifact mask, ``t``/``t'`` the training target or its USM-sharpened copy
(``l1_gt_usm``/``percep_gt_usm``, Real-ESRGAN's options; the discriminator's real input likewise ``gan_gt_usm``) and
the region weights ``W = 1 + (w - 1) * m``, ``w`` = ``train:percep_mask_weight`` / ``train:gan_mask_weight``: the
perceptual and adversarial terms count ``w`` times as much inside the artifact regions as outside (``w = 0``: not
at all), as weighted means (:func:`desra.losses.masked_loss.weighted_mean`). ``w = 1`` (default) is the unweighted
term, computed exactly as basicsr does.

The training target (``train:target_outside``):

* ``pseudo_gt`` (default, the paper): ``t = gt``, the dataset's offline pseudo-GT (the GAN-SR of the whole image with
  the artifact regions replaced by the MSE-SR);
* ``frozen_generator`` (ours): ``t = m * gt + (1 - m) * g0(lq)``, ``g0`` a frozen copy of the generator's initial
  weights (eval mode, no gradients) run on the very training crop: outside the artifact regions the target is what
  the original model paints on this input, so the "keep the rest" terms start at exactly zero. The pseudo-GT was
  made from whole images; a model's output on a small crop differs from it (RealESRGAN_x4plus: 19-23 dB PSNR on
  16-px LR crops, issue 9), and the pixel loss toward that mismatch blurs the generator (the collapse measured in
  docs/benchmarks.md). Costs one extra generator forward pass per iteration; the frozen weights are part of the
  training state, so a resumed run keeps the original ones.

Options beyond ``SRGANModel``'s:

* ``l1_gt_usm``, ``percep_gt_usm``, ``gan_gt_usm`` (top level, default false): USM-sharpen the target as
  Real-ESRGAN does;
* ``train:target_outside``: ``pseudo_gt`` or ``frozen_generator`` (above);
* ``train:fixed_params``: list of regular expressions; the generator's parameters whose names (as in its state
  dict, e.g. ``conv_first``, ``body.0.rdb1.conv1.weight``) match one (``re.match``) are not trained (no gradients,
  so the backward pass also stops early when they are the first layers);
* ``train:masked_pixel_opt``: a mask-restricted pixel loss (``MaskedL1Loss``);
* ``train:percep_mask_weight``, ``train:gan_mask_weight``: region weights (need ``RegionPerceptualLoss`` /
  ``RegionGANLoss``);
* ``train:amp``: ``bf16`` or ``fp16`` autocast on the training device (``false`` by default; fp16 uses a gradient
  scaler). Made for CUDA; on the CPU it runs too (bf16 natively on CPUs with AMX or AVX512-BF16), which is how the
  mixed-precision path is tested without a GPU;
* ``train:channels_last`` (default true): networks and batches in channels-last memory format, which convolutions
  run faster in (oneDNN on CPU, cuDNN on GPU); results agree with the default layout up to float rounding and the
  checkpoints are written in the default layout;
* ``val:`` and ``network_mse`` / ``path:pretrain_network_mse``: the validation of
  :mod:`desra.models.artifact_validation` (detected artifact area of the current EMA generator, and its NIQE, detail
  retention and realism verdict against the original generator's results; thresholds ``val:realism``).

A perceptual loss needs VGG19 weights on disk; without them the model fails at construction with directions
(:func:`desra.losses.perceptual_loss.find_vgg19_weights`), before basicsr could try to download them.

The generator may be any architecture spandrel detects: ``network_g: {type: auto}`` with ``path:
pretrain_network_g`` (:mod:`desra.archs.auto_arch`; the detected scale must equal ``scale``); the EMA copy and the
discriminator are as for any other generator.

Checkpoints ``net_g_<iter>.pth`` (``params``, ``params_ema``) and ``net_d_<iter>.pth`` (``params``) have Real-ESRGAN's
release format, with the tensor names of the original checkpoint for a detected generator, and are written atomically;
``logger: save_checkpoint_format: safetensors`` writes ``net_g_<iter>.safetensors`` (the EMA weights when kept, else
``params``) and ``net_d_<iter>.safetensors`` instead (:func:`desra.weights.checkpoint.save_network_file`). The training
state is written by ``desra/train.py`` from :meth:`DeSRAModel.training_state`.
"""
import copy
import os
import re
from collections import OrderedDict
from contextlib import nullcontext

import torch
from basicsr.losses import build_loss
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils import USMSharp, get_root_logger
from basicsr.utils.dist_util import master_only
from basicsr.utils.registry import MODEL_REGISTRY
from torch.nn.parallel import DistributedDataParallel

from desra.archs.auto_arch import (AUTO_TYPE, check_scale, checkpoint_state_dict, load_detected_weights,
                                   resolve_network_opt)
from desra.losses.masked_loss import RegionGANLoss
from desra.losses.perceptual_loss import RegionPerceptualLoss
from desra.models.artifact_validation import ArtifactAreaValidator
from desra.weights.checkpoint import (CHECKPOINT_FORMATS, EMA_OR_PLAIN_PARAM_KEYS, cpu_state_dict, load_network_weights,
                                      same_weights, save_network_file)

#: ``train:amp`` values and the autocast dtype they select.
AMP_DTYPES = {False: None, None: None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
#: ``train:target_outside`` values (module docstring).
TARGETS_OUTSIDE = ('pseudo_gt', 'frozen_generator')


def amp_dtype_from_options(opt):
    """The autocast dtype ``train:amp`` asks for (None: full precision).

    Raises:
        ValueError: An unknown value.
    """
    amp = opt['train'].get('amp', False)
    if amp not in AMP_DTYPES:
        raise ValueError(f'train:amp must be bf16, fp16 or false, got {amp!r}')
    return AMP_DTYPES[amp]


@MODEL_REGISTRY.register()
class DeSRAModel(SRGANModel):
    """Mask-guided GAN fine-tuning of an SR generator (RRDBNet, SwinIR, ...) on DeSRA data (module docstring).

    Data (``feed_data``): ``lq`` (N, 3, h, w), ``gt`` (N, 3, scale*h, scale*w) and ``mask`` (N, 1, scale*h, scale*w),
    all float in [0, 1]; ``mask`` is 1 on artifact pixels and needed only by the mask-guided terms.
    """

    def __init__(self, opt):
        self.amp_dtype = amp_dtype_from_options(opt) if opt['is_train'] else None
        channels_last = opt['is_train'] and opt['train'].get('channels_last', True)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.artifact_validator = None
        self.validation_figures = {}
        save_format = (opt.get('logger') or {}).get('save_checkpoint_format', 'pth')
        if save_format not in CHECKPOINT_FORMATS:
            raise ValueError(f'logger:save_checkpoint_format must be one of {", ".join(CHECKPOINT_FORMATS)}, '
                             f'got {save_format!r}')
        opt['network_g'] = resolve_network_opt(opt, 'g')
        if opt['network_g'].get('type') == AUTO_TYPE:
            # the weights load with the key detection read them with (default auto: a bare state dict, as model zoos
            # publish, loads too), not basicsr's default "params"
            opt['path'].setdefault('param_key_g', opt['network_g']['param_key'])
        super().__init__(opt)
        check_scale(self.get_bare_model(self.net_g), opt.get('scale'), 'g')
        if self.is_train and opt.get('val') is not None:
            # built now, while the generator holds its original weights (resume_training replaces them)
            self.artifact_validator = ArtifactAreaValidator(opt, self.device, self.frozen_original())

    def init_training_settings(self):
        train_opt = self.opt['train']
        perceptual_opt = train_opt.get('perceptual_opt')
        if perceptual_opt and perceptual_opt['type'] == 'PerceptualLoss':
            # basicsr's own PerceptualLoss would download VGG19 when it is missing, and reads the file with a plain
            # torch.load; RegionPerceptualLoss without region weights is the same loss, loaded safely
            train_opt['perceptual_opt'] = dict(perceptual_opt, type='RegionPerceptualLoss')
        self.target_outside = train_opt.get('target_outside', 'pseudo_gt')
        if self.target_outside not in TARGETS_OUTSIDE:
            raise ValueError(f'train:target_outside must be one of {", ".join(TARGETS_OUTSIDE)}, '
                             f'got {self.target_outside!r}')
        self.net_g_frozen = self.frozen_copy(self.net_g) if self.target_outside == 'frozen_generator' else None
        self.fix_generator_params(train_opt.get('fixed_params') or [])
        super().init_training_settings()
        self.check_ldl_option()
        self.cri_masked_pix = build_loss(train_opt['masked_pixel_opt']).to(self.device) \
            if train_opt.get('masked_pixel_opt') else None
        self.percep_mask_weight = float(train_opt.get('percep_mask_weight', 1.0))
        self.gan_mask_weight = float(train_opt.get('gan_mask_weight', 1.0))
        if self.percep_mask_weight != 1 and not isinstance(self.cri_perceptual, RegionPerceptualLoss):
            raise ValueError('train:percep_mask_weight needs train:perceptual_opt of type RegionPerceptualLoss')
        if self.gan_mask_weight != 1 and not isinstance(self.cri_gan, RegionGANLoss):
            raise ValueError('train:gan_mask_weight needs train:gan_opt of type RegionGANLoss')
        use_usm = any(self.opt.get(key, False) for key in ('l1_gt_usm', 'percep_gt_usm', 'gan_gt_usm'))
        self.usm_sharpener = USMSharp().to(self.device) if use_usm else None
        self.grad_scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        if hasattr(self, 'net_g_ema'):
            self.net_g_ema.to(memory_format=self.memory_format)

    def frozen_original(self):
        """A frozen generator with the original weights of :meth:`generator_for_inference`, for the validation's
        original-GAN results (rank 0 only, else None): the frozen target generator itself when it holds those very
        weights (``target_outside: frozen_generator``; no second copy), else a new frozen copy."""
        if self.opt.get('rank', 0) != 0:
            return None
        original = self.generator_for_inference()
        frozen = getattr(self, 'net_g_frozen', None)
        if frozen is not None and same_weights(frozen, original):
            return frozen
        return self.frozen_copy(original)

    def frozen_copy(self, net):
        """An eval-mode copy of the bare ``net`` with its current weights that takes no gradients."""
        frozen = copy.deepcopy(self.get_bare_model(net)).eval()
        frozen.requires_grad_(False)
        return frozen

    def fix_generator_params(self, patterns):
        """Stop training the generator's parameters whose names match one of ``patterns`` (``train:fixed_params``).

        Raises:
            ValueError: A pattern that matches no parameter (a typo would otherwise train everything silently).
        """
        params = dict(self.get_bare_model(self.net_g).named_parameters())
        for pattern in patterns:
            matched = [name for name in params if re.match(pattern, name)]
            if not matched:
                raise ValueError(f'train:fixed_params: {pattern!r} matches no parameter of network_g '
                                 f'(e.g. {next(iter(params))})')
            for name in matched:
                params[name].requires_grad_(False)
        if patterns and isinstance(self.net_g, DistributedDataParallel):  # DDP fixes the trained set when wrapping
            self.net_g = self.model_to_device(self.get_bare_model(self.net_g))
        if patterns:
            fixed = sum(p.numel() for p in params.values() if not p.requires_grad)
            get_root_logger().info(f'train:fixed_params: {fixed} of {sum(p.numel() for p in params.values())} '
                                   'generator parameters are not trained.')

    def model_to_device(self, net):
        """basicsr's ``model_to_device`` (device, then DDP / DataParallel), the network first put in the memory
        format of ``train:channels_last``; under torchrun on the CPU (gloo), DDP without device ids, since basicsr's
        wrapper names the current CUDA device."""
        net = net.to(memory_format=self.memory_format)
        if self.opt['dist'] and self.device.type == 'cpu':
            return DistributedDataParallel(net, find_unused_parameters=self.opt.get('find_unused_parameters', False))
        return super().model_to_device(net)

    def get_optimizer(self, optim_type, params, lr, **kwargs):
        """The ``torch.optim`` optimizer named ``optim_type`` (``train:optim_g/optim_d:type``: Adam, AdamW, SGD, ...);
        basicsr 1.4.2 builds only Adam.

        Raises:
            ValueError: ``torch.optim`` has no optimizer of that name.
        """
        optimizer_class = getattr(torch.optim, optim_type, None)
        if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, torch.optim.Optimizer)):
            raise ValueError(f'train: optimizer type {optim_type!r} is not an optimizer of torch.optim '
                             '(e.g. Adam, AdamW, SGD)')
        return optimizer_class(params, lr, **kwargs)

    def check_ldl_option(self):
        """Refuse ``train:ldl_opt``, which basicsr builds into ``cri_ldl`` but only ``DeSRALDLModel`` uses."""
        if self.cri_ldl is not None:
            raise ValueError('train:ldl_opt is set but DeSRAModel does not use it; use model_type: DeSRALDLModel')

    def load_network(self, net, load_path, strict=True, param_key='params'):
        """basicsr's ``load_network``, loading with ``weights_only=True`` and reporting mismatches readably.

        As basicsr does, a checkpoint without ``params_ema`` (e.g. LDL's releases) gives its ``params``
        (:data:`desra.weights.checkpoint.EMA_OR_PLAIN_PARAM_KEYS`).
        """
        if param_key == 'params_ema':
            param_key = EMA_OR_PLAIN_PARAM_KEYS
        bare = self.get_bare_model(net)
        load = load_detected_weights if hasattr(bare, 'detected_arch') else load_network_weights
        used_key = load(bare, load_path, param_key, strict)
        get_root_logger().info(f'Loading {type(bare).__name__} from {load_path} (key "{used_key}").')

    def feed_data(self, data):
        self.lq = self.to_device(data['lq'])
        if 'gt' in data:
            self.gt = self.to_device(data['gt'])
        self.mask = self.to_device(data['mask']) if 'mask' in data else None

    def to_device(self, tensor):
        """A batch tensor on the model's device, in its memory format."""
        return tensor.to(self.device, memory_format=self.memory_format, non_blocking=True)

    def autocast(self):
        """The mixed-precision context of ``train:amp`` (a no-op context when it is off)."""
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def training_target(self):
        """The (N, 3, H, W) target of ``train:target_outside``: ``gt``, or ``m * gt + (1 - m) * g0(lq)``."""
        if self.net_g_frozen is None:
            return self.gt
        mask = self.artifact_mask()
        with torch.no_grad(), self.autocast():
            kept = self.net_g_frozen(self.lq).float()
        return mask * self.gt + (1 - mask) * kept

    def loss_targets(self):
        """The targets (l1_gt, percep_gt, gan_gt): the training target (:meth:`training_target`), or its
        USM-sharpened copy where ``*_gt_usm`` say so; the discriminator's real input is the same target."""
        target = self.training_target()
        # basicsr's filter2D reshapes with view(), which needs the default layout
        target_usm = self.usm_sharpener(target.contiguous()) if self.usm_sharpener is not None else None
        return tuple(target_usm if self.opt.get(key, False) else target
                     for key in ('l1_gt_usm', 'percep_gt_usm', 'gan_gt_usm'))

    def artifact_mask(self):
        """The batch's (N, 1, H, W) artifact mask; raises when the data has none."""
        if self.mask is None:
            raise ValueError('the mask-guided losses need a "mask" in the training data (use DeSRADataset)')
        return self.mask

    def region_weight_kwargs(self, mask_weight):
        """``{'weight': 1 + (w - 1) * mask}`` for a region-weighted loss call, or ``{}`` when ``w == 1``."""
        if mask_weight == 1:
            return {}
        return {'weight': 1 + (mask_weight - 1) * self.artifact_mask()}

    def generator_loss(self, l1_gt, percep_gt, loss_dict):
        """The generator's total loss on ``self.output`` (module docstring); each term is added to ``loss_dict``."""
        terms = OrderedDict()
        if self.cri_pix:
            terms['l_g_pix'] = self.cri_pix(self.output, l1_gt)
        if self.cri_masked_pix:
            terms['l_g_masked_pix'] = self.cri_masked_pix(self.output, l1_gt, self.artifact_mask())
        if self.cri_perceptual:
            l_g_percep, l_g_style = self.cri_perceptual(self.output, percep_gt,
                                                        **self.region_weight_kwargs(self.percep_mask_weight))
            if l_g_percep is not None:
                terms['l_g_percep'] = l_g_percep
            if l_g_style is not None:
                terms['l_g_style'] = l_g_style
        fake_g_pred = self.net_d(self.output)
        terms['l_g_gan'] = self.cri_gan(fake_g_pred, True, is_disc=False,
                                        **self.region_weight_kwargs(self.gan_mask_weight))
        loss_dict.update(terms)
        return sum(terms.values())

    def optimize_parameters(self, current_iter):
        """One generator step (unless in the discriminator's warm-up) then one discriminator step, as Real-ESRGAN."""
        l1_gt, percep_gt, gan_gt = self.loss_targets()
        loss_dict = OrderedDict()
        train_g = current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters

        for p in self.net_d.parameters():
            p.requires_grad = False
        self.optimizer_g.zero_grad()
        with torch.set_grad_enabled(train_g), self.autocast():
            self.output = self.net_g(self.lq)
            if train_g:
                l_g_total = self.generator_loss(l1_gt, percep_gt, loss_dict)
        if train_g:
            self.grad_scaler.scale(l_g_total).backward()
            self.grad_scaler.step(self.optimizer_g)

        for p in self.net_d.parameters():
            p.requires_grad = True
        self.optimizer_d.zero_grad()
        with self.autocast():
            real_d_pred = self.net_d(gan_gt)
            l_d_real = self.cri_gan(real_d_pred, True, is_disc=True)
        self.grad_scaler.scale(l_d_real).backward()
        with self.autocast():
            fake_d_pred = self.net_d(self.output.detach())
            l_d_fake = self.cri_gan(fake_d_pred, False, is_disc=True)
        self.grad_scaler.scale(l_d_fake).backward()
        self.grad_scaler.step(self.optimizer_d)
        self.grad_scaler.update()
        loss_dict.update(l_d_real=l_d_real, out_d_real=real_d_pred.detach().float().mean(),
                         l_d_fake=l_d_fake, out_d_fake=fake_d_pred.detach().float().mean())

        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)
        self.log_dict = self.reduce_loss_dict(loss_dict)

    @torch.no_grad()
    def model_ema(self, decay=0.999):
        """basicsr's EMA update ``ema = decay * ema + (1 - decay) * net_g`` of every generator parameter, in two
        multi-tensor operations instead of two per parameter (RRDBNet has about 700 parameter tensors)."""
        params = dict(self.get_bare_model(self.net_g).named_parameters())
        ema_params = dict(self.net_g_ema.named_parameters())
        targets = list(ema_params.values())
        torch._foreach_mul_(targets, decay)
        torch._foreach_add_(targets, [params[name].detach() for name in ema_params], alpha=1 - decay)

    def generator_for_inference(self):
        """The generator that is evaluated and released: the EMA copy when kept, else the bare ``net_g``."""
        return self.net_g_ema if hasattr(self, 'net_g_ema') else self.get_bare_model(self.net_g)

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """Log the artifact area DeSRA's detector finds in the current generator's results (see ``val:``), and keep
        the figures in ``validation_figures[<dataset name>]`` for the checkpoint selection."""
        self.validation_figures[dataloader.dataset.opt['name']] = self.artifact_validator.validate(
            self.generator_for_inference(), dataloader, current_iter, tb_logger, save_img)
        self.net_g.train()  # inference switched it to eval mode when there is no EMA copy

    @master_only
    def save_network(self, net, net_label, current_iter, param_key='params'):
        """Write ``<net_label>_<iter>.pth`` (``latest`` for -1) in ``path:models``: ``{param_key: state_dict}``, or
        ``.safetensors`` (``logger: save_checkpoint_format``); a detected generator under its checkpoint's names."""
        nets = net if isinstance(net, list) else [net]
        keys = param_key if isinstance(param_key, list) else [param_key]
        label = 'latest' if current_iter == -1 else current_iter
        save_format = (self.opt.get('logger') or {}).get('save_checkpoint_format', 'pth')
        save_network_file({key: checkpoint_state_dict(self.get_bare_model(n)) for n, key in zip(nets, keys)},
                          os.path.join(self.opt['path']['models'], f'{net_label}_{label}'), save_format)

    def save_generator(self, label):
        """Write the generator (``params``, and ``params_ema`` when kept) as ``net_g_<label>``; return the file name
        (``label``: an iteration, -1 for ``latest``, or a name such as ``best``)."""
        if hasattr(self, 'net_g_ema'):
            self.save_network([self.net_g, self.net_g_ema], 'net_g', label, param_key=['params', 'params_ema'])
        else:
            self.save_network(self.net_g, 'net_g', label)
        save_format = (self.opt.get('logger') or {}).get('save_checkpoint_format', 'pth')
        return f'net_g_{"latest" if label == -1 else label}.{save_format}'

    def save(self, epoch, current_iter):
        """Write the networks in Real-ESRGAN's format; ``desra/train.py`` writes the training state."""
        self.save_generator(current_iter)
        self.save_network(self.net_d, 'net_d', current_iter)

    def training_state(self):
        """What the model needs to continue exactly where it is, as plain containers of CPU tensors.

        Returns:
            dict: ``optimizers`` and ``schedulers`` (state dicts, basicsr's keys), ``grad_scaler``, and the weights
            ``net_g``, ``net_g_ema`` (when kept), ``net_g_frozen`` (with ``target_outside: frozen_generator``) and
            ``net_d``; loadable with ``torch.load(weights_only=True)``.
        """
        state = {'optimizers': [optimizer.state_dict() for optimizer in self.optimizers],
                 'schedulers': [scheduler.state_dict() for scheduler in self.schedulers],
                 'grad_scaler': self.grad_scaler.state_dict(),
                 'net_g': cpu_state_dict(self.get_bare_model(self.net_g)),
                 'net_d': cpu_state_dict(self.get_bare_model(self.net_d))}
        if hasattr(self, 'net_g_ema'):
            state['net_g_ema'] = cpu_state_dict(self.net_g_ema)
        if self.net_g_frozen is not None:
            state['net_g_frozen'] = cpu_state_dict(self.net_g_frozen)
        return state

    def resume_training(self, resume_state):
        """Restore what :meth:`training_state` saved."""
        if self.artifact_validator is not None:  # the generator it copied is not the original one
            self.artifact_validator.forget_original_generator()
        super().resume_training(resume_state)
        self.get_bare_model(self.net_g).load_state_dict(resume_state['net_g'])
        self.get_bare_model(self.net_d).load_state_dict(resume_state['net_d'])
        if hasattr(self, 'net_g_ema'):
            self.net_g_ema.load_state_dict(resume_state['net_g_ema'])
        if self.net_g_frozen is not None:
            if 'net_g_frozen' not in resume_state:
                raise ValueError('train:target_outside is frozen_generator but the run being resumed was trained '
                                 'with the pseudo-GT target (its state has no frozen generator): resume with the same '
                                 'train:target_outside')
            self.net_g_frozen.load_state_dict(resume_state['net_g_frozen'])
        if bool(resume_state['grad_scaler']) != self.grad_scaler.is_enabled():
            raise ValueError('train:amp differs from the run being resumed (fp16 gradient scaling on in one, off in '
                             'the other): resume with the same train:amp')
        self.grad_scaler.load_state_dict(resume_state['grad_scaler'])
