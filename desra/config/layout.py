"""Where a run reads, writes and computes, as its parsed options say: the input folders they name, the output folders
the command writes, and the torch device of ``num_gpu``."""
import torch


def input_folders(opt):
    """``(key path, folder)`` of every ``dataroot_*`` string under ``datasets:`` (the folders a command reads)."""
    folders = []
    for phase, dataset in (opt.get('datasets') or {}).items():
        if not isinstance(dataset, dict):
            continue
        for key, value in dataset.items():
            if key.startswith('dataroot_') and isinstance(value, str) and value:
                folders.append((f'datasets:{phase}:{key}', value))
    return folders


def output_folders(opt, command):
    """``(what, folder)`` of every folder ``command`` writes (``path`` filled in by
    :func:`desra.config.options.parse_command_options`)."""
    if command == 'train':
        return [('experiments folder', opt['path']['experiments_root']), ('tb_logger folder', opt['path']['tb_logger'])]
    return [('results folder', opt['path']['run_root'])]


def resolve_device(opt):
    """The torch device for ``opt['num_gpu']`` (0 = CPU; ``auto`` must already be resolved)."""
    if opt['num_gpu'] == 0:
        return torch.device('cpu')
    return torch.device('cuda', torch.cuda.current_device())
