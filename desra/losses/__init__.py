"""DeSRA's losses, registered in basicsr's registry on import (every `*_loss.py` module in this folder)."""
from desra.registry import import_modules_with_suffix

_modules = import_modules_with_suffix(__name__, __file__, '_loss.py')
