"""DeSRA: detect and delete the artifacts of GAN-based real-world super-resolution models.

Importing ``desra`` patches basicsr for current torchvision (``desra.basicsr_compat``) and registers
DeSRA's datasets, losses and models in basicsr's registries, so that a YAML ``type:`` resolves to them.
"""
# flake8: noqa
from . import basicsr_compat  # must come before any basicsr import
from .archs import *
from .data import *
from .losses import *
from .models import *
from .version import __version__
