"""Fine-tune a GAN-SR model on DeSRA data: ``python desra/train.py -opt options/finetune_realesrgan_x4plus.yml``.

Options are read by DeSRA's one option parser (:func:`desra.config.options.parse_command_options`: basicsr's CLI,
checked keys, safe YAML); the run is :func:`desra.training.loop.train`: basicsr's builders, loggers and folders
(``<--root>/experiments/<name>/``, ``<--root>/tb_logger/<name>/``), DeSRA's own loop, which resumes exactly
(``--auto_resume``) and never archives or overwrites an earlier run.

Usage::

    python desra/train.py -opt options/finetune_realesrgan_x4plus.yml [--auto_resume] [--force_yml train:amp=bf16]
    torchrun --nproc_per_node=4 desra/train.py -opt options/finetune_ldl_x4.yml --launcher pytorch --auto_resume
"""
import desra  # noqa: F401  (basicsr compatibility and registrations)
from desra.commands import run_main
from desra.config.options import parse_command_options
from desra.training.loop import train


def main(args=None, root_path=None):
    """Train from the command line (``args``, default ``sys.argv[1:]``); ``experiments/`` and ``tb_logger/`` go under
    ``--root`` (default: ``root_path``, else the current folder). Returns the exit status."""
    opt, parsed = parse_command_options(__doc__.splitlines()[0], 'train', args=args, root_path=root_path,
                                        preflight=False)
    return train(opt, parsed.opt)


if __name__ == '__main__':
    run_main(main)
