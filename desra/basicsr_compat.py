"""The one place where DeSRA adapts basicsr 1.4.2 (the newest release on PyPI) to current torch / torchvision.

Import this module before anything from ``basicsr``; ``import desra`` does so first.

basicsr 1.4.2 has five known breaks and one noise on today's stack (or on a machine without a GPU):

1. ``basicsr/data/degradations.py`` imports ``torchvision.transforms.functional_tensor``, a private module that
   torchvision 0.17 removed (its functions live on in ``torchvision.transforms.functional``). Importing basicsr
   fails with ``ModuleNotFoundError`` before anything else runs. We register an alias module under the old name,
   holding the one function basicsr takes from it (``rgb_to_grayscale``).
2. ``basicsr.train.load_resume_state`` maps the training state onto ``torch.cuda.current_device()`` whatever
   ``num_gpu`` says, so ``--auto_resume`` crashes on a CPU-only machine. DeSRA's own training loop
   (:mod:`desra.training`) loads training states itself, onto the configured device, and never calls it.
3. torch >= 2.6 loads with ``weights_only=True`` by default. basicsr's checkpoints (``params`` / ``params_ema``) and
   training states (optimizer and scheduler state dicts) still load that way; DeSRA saves nothing that would not,
   and loads every file with ``weights_only=True`` explicitly (see ``desra/weights/checkpoint.py``).
4. ``basicsr.utils.dist_util.init_dist`` (called by ``parse_options`` for ``--launcher pytorch``) binds each rank to
   ``rank % torch.cuda.device_count()`` and uses NCCL, so under torchrun without CUDA it divides by zero. We wrap it:
   with CUDA it is basicsr's; without, the processes join a gloo process group (CPU tensors), which is what DDP and
   ``torch.distributed`` collectives need on the CPU. Both ``dist_util`` and ``options`` (which imported the name)
   see the wrapper.
5. ``basicsr.utils.img_process_util.filter2D`` (the blur of Real-ESRGAN's degradation in ``RealESRNetModel.feed_data``
   and of ``USMSharp``) reshapes its padded input with ``view``, which fails on a tensor in another memory layout
   (the CPU's ``DiffJPEG`` returns its image channels-last). We make its input contiguous first, in that module and
   in ``realesrnet_model``, which imported the name (used by DeSRA's ``ReferenceTwinModel``).
6. basicsr registers Real-ESRGAN's classes under ``<Name>_basicsr`` (``UNetDiscriminatorSN``, ``SRVGGNetCompact``,
   ``RealESRGANModel``, ``RealESRNetModel``, ``RealESRGANDataset``, ``RealESRGANPairedDataset``) so that the
   ``realesrgan`` package can still register the plain names; ``Registry.get`` finds such a class by the plain name an
   option file gives, but prints ``Name X is not found, use name: X_basicsr!`` to the terminal each time. We make
   that lookup quiet; what it returns is unchanged.
"""
import sys
import types

import torch
import torchvision.transforms.functional as _tv_functional

_LEGACY_MODULE = 'torchvision.transforms.functional_tensor'

if _LEGACY_MODULE not in sys.modules:
    try:
        import torchvision.transforms.functional_tensor  # noqa: F401  (torchvision < 0.17 still has it)
    except ImportError:
        _alias = types.ModuleType(_LEGACY_MODULE)
        _alias.rgb_to_grayscale = _tv_functional.rgb_to_grayscale
        sys.modules[_LEGACY_MODULE] = _alias


import basicsr.utils.dist_util as _dist_util  # noqa: E402  (after the alias: importing basicsr needs it)
import basicsr.utils.options as _basicsr_options  # noqa: E402

_cuda_init_dist = _dist_util.init_dist


def init_dist(launcher, backend='nccl', **kwargs):
    """basicsr's ``init_dist`` when CUDA is available; otherwise a gloo process group from torchrun's environment.

    Args:
        launcher (str): ``pytorch`` (torchrun) or ``slurm`` (CUDA only, as in basicsr).
        backend (str): Process-group backend with CUDA (basicsr's default ``nccl``); ignored without CUDA.
        **kwargs: basicsr's ``dist_params`` (e.g. ``port`` for slurm).

    Raises:
        ValueError: ``slurm`` without CUDA.
    """
    if torch.cuda.is_available():
        return _cuda_init_dist(launcher, backend, **kwargs)
    if launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} needs CUDA; on CPU start the processes with torchrun and '
                         '--launcher pytorch')
    torch.distributed.init_process_group(backend='gloo')


_dist_util.init_dist = _basicsr_options.init_dist = init_dist


import basicsr.models.realesrnet_model as _realesrnet_model  # noqa: E402
import basicsr.utils.img_process_util as _img_process_util  # noqa: E402

_view_filter2D = _img_process_util.filter2D


def filter2D(img, kernel):  # noqa: N802  (basicsr's name)
    """basicsr's ``filter2D`` (img (b, c, h, w), kernel (b or 1, k, k), k odd) on a contiguous copy of ``img``."""
    return _view_filter2D(img.contiguous(), kernel)


_img_process_util.filter2D = _realesrnet_model.filter2D = filter2D


import basicsr.utils.registry as _registry  # noqa: E402


def _quiet_get(self, name, suffix='basicsr'):
    """basicsr's ``Registry.get`` without its print: the object registered as ``name``, else ``<name>_<suffix>``.

    Raises:
        KeyError: Neither is registered (basicsr's message).
    """
    found = self._obj_map.get(name, self._obj_map.get(f'{name}_{suffix}'))
    if found is None:
        raise KeyError(f"No object named '{name}' found in '{self._name}' registry!")
    return found


_registry.Registry.get = _quiet_get
