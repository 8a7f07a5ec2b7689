"""SR inference: build a network from options and super-resolve images of any size, tiled when needed."""
from .folder import FolderRunReport, upscale_decoded, upscale_file, upscale_folder
from .sr_network import build_sr_network, build_upsampler
from .tiled_upsampler import TiledUpsampler, size_requirements

__all__ = [
    'build_sr_network', 'build_upsampler', 'TiledUpsampler', 'size_requirements', 'upscale_decoded', 'upscale_file',
    'upscale_folder', 'FolderRunReport'
]
