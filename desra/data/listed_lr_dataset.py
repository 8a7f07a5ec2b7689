"""LR images for validation, restricted to a list of names the way the detect and test commands read one.

``type: ListedLRDataset``: basicsr's ``SingleImageDataset`` (``lq`` (3, h, w) RGB [0, 1], ``lq_path``) over the
images of ``dataroot_lq`` whose names (relative path without extension, :func:`desra.io.names.stem_of`) are listed in
``meta_info_file``: a text list, or a YAML mapping such as ``datasets/demo/splits.yml`` with ``meta_info_key``
(:func:`desra.io.names.read_name_list`); without ``meta_info_file``, every image of ``dataroot_lq`` and its
subfolders, sorted by name. basicsr's own
``meta_info_file`` reads only text lines of file names.
"""
from basicsr.data.single_image_dataset import SingleImageDataset
from basicsr.utils.registry import DATASET_REGISTRY

from desra.io.names import index_images, read_name_list, stem_of


@DATASET_REGISTRY.register()
class ListedLRDataset(SingleImageDataset):
    """The listed LR images of ``dataroot_lq``, in the order of the list (module docstring).

    Raises:
        ValueError: A listed name has no image in ``dataroot_lq`` (the first five are named).
    """

    def __init__(self, opt):
        super().__init__({key: value for key, value in opt.items() if key not in ('meta_info_file', 'meta_info_key')})
        self.opt = opt
        index = index_images(opt['dataroot_lq'], 'LR')
        if not opt.get('meta_info_file'):
            self.paths = [index[name] for name in sorted(index)]
            return
        names = [stem_of(name) for name in read_name_list(opt['meta_info_file'], opt.get('meta_info_key'))]
        missing = [name for name in names if name not in index]
        if missing:
            more = f' and {len(missing) - 5} more' if len(missing) > 5 else ''
            raise ValueError(f'{opt["meta_info_file"]}: no LR image in {opt["dataroot_lq"]} for '
                             f'{", ".join(missing[:5])}{more}')
        self.paths = [index[name] for name in names]
