"""DeSRA's network architectures, registered in basicsr's ARCH_REGISTRY on import (every `*_arch.py` module here)."""
from desra.registry import import_modules_with_suffix

_modules = import_modules_with_suffix(__name__, __file__, '_arch.py')
