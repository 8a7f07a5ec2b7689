"""The one place where DeSRA adapts basicsr 1.4.2 (the newest release on PyPI) to current torch / torchvision.

Import this module before anything from ``basicsr``; ``import desra`` does so first.

basicsr 1.4.2 has three known breaks on today's stack:

1. ``basicsr/data/degradations.py`` imports ``torchvision.transforms.functional_tensor``, a private module that
   torchvision 0.17 removed (its functions live on in ``torchvision.transforms.functional``). Importing basicsr
   fails with ``ModuleNotFoundError`` before anything else runs. We register an alias module under the old name,
   holding the one function basicsr takes from it (``rgb_to_grayscale``).
2. ``basicsr.train.load_resume_state`` maps the training state onto ``torch.cuda.current_device()`` whatever
   ``num_gpu`` says, so ``--auto_resume`` crashes on a CPU-only machine. DeSRA's own training loop
   (``desra/train.py``) loads training states itself, onto the configured device, and never calls it.
3. torch >= 2.6 loads with ``weights_only=True`` by default. basicsr's checkpoints (``params`` / ``params_ema``) and
   training states (optimizer and scheduler state dicts) still load that way; DeSRA saves nothing that would not,
   and loads every file with ``weights_only=True`` explicitly (see ``desra/utils/checkpoint.py``).
"""
import sys
import types

import torchvision.transforms.functional as _tv_functional

_LEGACY_MODULE = 'torchvision.transforms.functional_tensor'

if _LEGACY_MODULE not in sys.modules:
    try:
        import torchvision.transforms.functional_tensor  # noqa: F401  (torchvision < 0.17 still has it)
    except ImportError:
        _alias = types.ModuleType(_LEGACY_MODULE)
        _alias.rgb_to_grayscale = _tv_functional.rgb_to_grayscale
        sys.modules[_LEGACY_MODULE] = _alias
