"""What a reference-twin run (``model_type: ReferenceTwinModel``) checks before it makes any folder, each problem in
one line naming the file: the loss is a pixel loss only, the GAN checkpoint is set, the generator trains (its
forward pass gives gradients to the parameters it is to train; in tail mode, its frozen part can be computed once),
the HR folder holds at least one image that reads and is at least the crop ``datasets: train: gt_size`` a side, and
each validation set (``datasets: val*`` of ``type: ReferenceTwinDataset``) at least one LR / HR pair that reads
with an HR of ``scale`` times its LR. The other images and pairs are skipped, each named in a warning of the log
(and in the end-of-run summary, :meth:`desra.models.reference_twin_model.ReferenceTwinModel.end_of_run`). The scale
of a ``type: auto`` checkpoint is checked with the generator's crops
(:func:`desra.training.network_check.check_generator_takes_crops`).
"""
import torch

from desra.archs.frozen_features import FrozenFeatures, select_trained_params
from desra.data.reference_twin_dataset import usable_hr_images, usable_validation_pairs

#: The model type these checks are for.
TWIN_MODEL = 'ReferenceTwinModel'
#: The dataset type of a twin's training images and validation pairs.
TWIN_DATASET = 'ReferenceTwinDataset'
#: Options of GAN fine-tuning that a twin (pixel loss only) must not have.
NOT_FOR_A_TWIN = ('perceptual_opt', 'gan_opt', 'ldl_opt', 'masked_pixel_opt')


def check_hr_folder(dataset_opt):
    """The HR folder of ``datasets: train`` holds an image that reads and is at least ``gt_size`` pixels a side
    (:func:`~desra.data.reference_twin_dataset.usable_hr_images`); the others are skipped.

    Returns:
        list[str]: One warning per skipped image, naming the file and its problem.

    Raises:
        ValueError: ``crop_pad_size`` below ``gt_size``, or no usable image (one line naming the folder).
    """
    gt_size = dataset_opt['gt_size']
    if dataset_opt.get('crop_pad_size', 400) < gt_size:
        raise ValueError(f'datasets:train:crop_pad_size {dataset_opt["crop_pad_size"]} is smaller than the crop '
                         f'gt_size {gt_size}')
    usable, skipped = usable_hr_images(dataset_opt)
    return [f'HR image skipped (the twin trains on the other {len(usable)} of {len(usable) + len(skipped)}): {line}'
            for line in skipped]


def check_validation_pairs(opt):
    """Each validation set of ``type: ReferenceTwinDataset`` (``datasets: val``, ``val_<n>``) holds an LR / HR pair
    that reads with an HR of ``scale`` times its LR
    (:func:`~desra.data.reference_twin_dataset.usable_validation_pairs`); the others are skipped.

    Returns:
        list[str]: One warning per skipped pair, naming its file(s) and problem(s).

    Raises:
        ValueError: An HR image without its LR image, or a set with no usable pair (one line naming its folders).
    """
    notes = []
    for phase, dataset_opt in opt['datasets'].items():
        if phase.split('_')[0] != 'val' or dataset_opt.get('type') != TWIN_DATASET:
            continue
        usable, skipped = usable_validation_pairs(dataset_opt)
        notes += [f'validation pair of {dataset_opt["name"]} skipped (the twin is validated on the other '
                  f'{len(usable)} of {len(usable) + len(skipped)}): {line}' for line in skipped]
    return notes


def check_trains(net, opt):
    """The generator's parameters to train get gradients from one pixel-loss step on an LR crop (``net`` is left
    in eval mode with its parameters' ``requires_grad`` as the mode sets them).

    Raises:
        ValueError: No trainable parameter, no gradient (a forward pass for inference only), or in tail mode a
            frozen part that cannot be computed once (:meth:`FrozenFeatures.probe`).
    """
    detected = getattr(net, 'detected_arch', None)
    name = f'{detected.name} ({detected.source})' if detected is not None else type(net).__name__
    train_opt = opt['train']
    if train_opt.get('twin_mode', 'whole') == 'tail':
        select_trained_params(net, train_opt.get('trained_params'), train_opt.get('tail_fraction', 0.1))
    else:
        net.requires_grad_(True)
    trained = [p for p in net.parameters() if p.requires_grad]
    if not trained:
        raise ValueError(f'network_g {name} has no parameters to train')
    side = opt['datasets']['train']['gt_size'] // opt['scale']
    lq = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    try:
        with torch.enable_grad():
            output = net(lq)
            if not output.requires_grad:
                raise RuntimeError('its output does not depend on its parameters')
            output.mean().backward()
    except RuntimeError as error:
        reason = ' '.join(str(error).split())[:200]
        raise ValueError(f'network_g {name} cannot be trained: {reason} (its forward pass runs for inference only); '
                         'a reference twin needs an architecture that trains') from None
    if all(p.grad is None for p in trained):
        raise ValueError(f'network_g {name} cannot be trained: its forward pass gives its parameters no gradient')
    net.zero_grad(set_to_none=True)
    if train_opt.get('twin_mode') == 'tail':
        FrozenFeatures(net).probe(lq)


def check_reference_twin(opt, net):
    """All the checks of the module docstring, for ``model_type: ReferenceTwinModel`` (a no-op for other models).

    Args:
        opt (dict): The training options.
        net (nn.Module | None): The generator :func:`check_generator_takes_crops` built (None when the options
            have no ``datasets: train: gt_size`` or ``scale``, which a twin needs).

    Returns:
        list[str]: Warnings for the log: the HR images and validation pairs skipped (:func:`check_hr_folder`,
        :func:`check_validation_pairs`); none for other models.

    Raises:
        ValueError: The first problem, in one line.
    """
    if opt.get('model_type') != TWIN_MODEL:
        return []
    if net is None:
        raise ValueError('datasets:train:gt_size and scale: a reference twin trains on crops of gt_size; set both')
    present = [key for key in NOT_FOR_A_TWIN if (opt['train'] or {}).get(key)]
    if present or opt.get('network_d'):
        key = f'train:{present[0]}' if present else 'network_d'
        raise ValueError(f'{key}: a reference twin trains with a pixel loss only (train:pixel_opt, L1); remove it')
    if not opt['train'].get('pixel_opt'):
        raise ValueError('train:pixel_opt: a reference twin trains with a pixel loss (L1Loss); set it')
    if not opt['path'].get('pretrain_network_g'):
        raise ValueError('path:pretrain_network_g: a reference twin starts from the weights of the GAN checkpoint it '
                         'is a twin of; set it')
    notes = check_hr_folder(opt['datasets']['train']) + check_validation_pairs(opt)
    check_trains(net, opt)
    return notes
