"""What the training run checks of its generator before it makes any folder: that the generator takes the training
crops. An architecture may need a smallest input or a multiple of its window (spandrel's size requirements); a crop
it cannot take would otherwise end the run at its first iteration, after its folder exists, in a traceback from deep
inside the network."""
import math

import torch
from basicsr.utils.registry import ARCH_REGISTRY

from desra.archs.auto_arch import check_scale, resolve_network_opt
from desra.inference.tiled_upsampler import size_requirements


def smallest_fitting_side(side, requirements):
    """The smallest input side >= ``side`` (pixels) that spandrel's :class:`SizeRequirements` allow."""
    side = max(side, requirements.minimum)
    return math.ceil(side / requirements.multiple_of) * requirements.multiple_of


def check_generator_takes_crops(opt):
    """Build ``network_g`` on the CPU (from its checkpoint for ``type: auto``) and run it once, without gradients, on
    one LR crop of the training size, ``datasets: train: gt_size // scale`` pixels a side.

    Returns:
        nn.Module | None: The generator it built (None for a dataset of whole images, not checked here).

    Raises:
        ValueError: The crop is not a whole LR crop, or the generator fails on it or gives another size; the
            message names the architecture, the crop and, where the requirements are known, the smallest
            ``gt_size`` it takes.
    """
    gt_size, scale = opt['datasets']['train'].get('gt_size'), opt.get('scale')
    if not gt_size or not scale:
        return  # a dataset of whole images: its own code checks them
    if gt_size % scale:
        raise ValueError(f'datasets:train:gt_size {gt_size} is not a multiple of scale {scale}')
    network_opt = resolve_network_opt(opt, 'g')
    net = ARCH_REGISTRY.get(network_opt.pop('type'))(**network_opt).eval()  # basicsr's build_network, without its log
    check_scale(net, scale, 'g')  # a checkpoint of another scale: said as such, not as a wrong output size
    detected = getattr(net, 'detected_arch', None)
    name = f'{detected.name} ({detected.source})' if detected is not None else type(net).__name__
    requirements = size_requirements(net, scale)
    side = gt_size // scale
    fitting = smallest_fitting_side(side, requirements)
    hint = (f'; the smallest crop it takes is gt_size {fitting * scale} (LR inputs of at least '
            f'{requirements.minimum} px, in multiples of {requirements.multiple_of})' if fitting != side else '')
    try:
        with torch.no_grad():
            output = net(torch.zeros(1, 3, side, side))
    except Exception as error:  # the architecture's own error, at any depth: reported in one line
        reason = ' '.join(str(error).split())[:200] or type(error).__name__
        raise ValueError(f'network_g {name} cannot train on crops of datasets:train:gt_size {gt_size} (LR '
                         f'{side}x{side}): {reason}{hint}') from None
    if tuple(output.shape[-2:]) != (gt_size, gt_size):
        raise ValueError(f'network_g {name} turns an LR crop of {side}x{side} into '
                         f'{output.shape[-1]}x{output.shape[-2]}, not {gt_size}x{gt_size} (scale {scale}){hint}')
    return net
