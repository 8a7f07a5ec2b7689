"""Stage 2 of DeSRA: turn a detection run into a fine-tuning dataset of LR / pseudo-GT / artifact-mask triples.

Usage::

    python desra/build_dataset.py -opt options/build_dataset.yml [--force_yml build:feather_sigma=2]

Inputs (``datasets: build:``), matched by relative path and file stem (extensions may differ; see
:mod:`desra.detection.pairs`, whose ``meta_info_file`` / ``meta_info_key`` restrict the images here too):

* ``dataroot_mse``, ``dataroot_gan``: the MSE-SR and GAN-SR images, ``scale`` times the LR size;
* ``dataroot_mask``: the detector's masks (``masks/`` of a detect run: 0/255, one per image, empty when no artifact
  was found), of the SR size or smaller by ``2 * build: mask_border`` (a band left out by the detector, zero-padded
  here);
* ``dataroot_lq``: the LR images.

Outputs in ``<results_root>/<name>/``, one PNG name shared by the three folders per sample:

* ``lq/``: the LR image (or crop), file depth and channels as read;
* ``gt/``: the pseudo-GT (:mod:`desra.data.pseudo_gt`), 16-bit when an SR input is;
* ``mask/``: the artifact mask at HR size, 0/255 uint8;
* ``meta_info.txt``: this run's sample names, one per line: ``meta_info_file`` of ``DeSRADataset``. A name may hold
  spaces; one that cannot be a line (a line break or other control character, surrounding whitespace, a leading
  ``#``) is refused with a message, the image's other outputs are not written;
* ``build_settings.json``: the ``scale``, ``manual_seed`` and ``build:`` settings of the samples; a rerun with other
  settings deletes the samples and builds them again, and says so;
* ``build_dataset_<name>_<time>.log``.

An image whose mask has at least ``min_artifact_pixels`` artifact pixels is used; of the others, a share
``negative_ratio`` (drawn with ``manual_seed``) is kept as negatives, whose pseudo-GT is the GAN-SR itself. With
``build: crop: enabled`` an image gives up to ``max_crops_per_image`` sub-images of ``gt_size`` HR pixels around its
largest artifact parts (:func:`~desra.data.aligned_crop.artifact_windows`), named ``<img>_s001.png``, ...

An image that cannot be used (unreadable, missing counterpart, sizes that do not fit) is reported with its files
and the run goes on; the exit status is then 1 (2 for bad options or folders). Outputs are written atomically and an
image whose outputs all exist and are newer than its inputs is skipped (unless ``overwrite: true``), so rerunning an
interrupted build continues it, and an image whose mask or SR images changed since is built again.
"""
import desra  # noqa: F401  (basicsr compatibility and registrations)
from desra.commands import run_main
from desra.config.options import parse_command_options
from desra.data.dataset_builder import DatasetBuilder


def main(args=None):
    opt, _ = parse_command_options(__doc__.splitlines()[0], 'build_dataset', args=args)
    return DatasetBuilder(opt).run()


if __name__ == '__main__':
    run_main(main)
