"""The SR results a run needs, made by its networks when first needed and kept as PNG files in the run folder."""
import json
import os
from functools import partial

import torch.distributed as dist

from desra.batch.pipeline import Prefetcher
from desra.batch.run import remove_output_folder
from desra.config.layout import input_folders
from desra.inference.folder import upscale_decoded
from desra.inference.sr_network import build_upsampler, network_made_with
from desra.io.images import decode_image, read_image, write_text
from desra.io.records import describe_changes, read_json_record


class SRCache:
    """The results of a run's SR networks for its LR images, made when first needed and kept as PNG files.

    The network of role ``r`` is ``network_<r>`` with weights ``path.pretrain_network_<r>`` (see
    :func:`desra.inference.build_upsampler`); it is only built when some result of it is missing. An LR image is read
    and decoded once, however many of its results are missing, and given to each of their networks. A result is
    written atomically with the depth and channels of its LR image (16-bit stays 16-bit, alpha is kept), so a complete
    file is always a finished result and a rerun reuses it.

    Args:
        opt (dict): The command's options.
        roles (tuple[str]): The results each image needs, from ``'mse'``, ``'gan'`` and ``'finetuned'``.
        device (torch.device): Where the networks run.
    """

    def __init__(self, opt, roles, device):
        self.opt = opt
        self.roles = tuple(roles)
        self.device = device
        self._upsamplers = {}
        self._prefetcher = None

    def made_with(self, role):
        """What shapes ``role``'s results (:func:`~desra.inference.sr_network.network_made_with`; fp16 runs only on
        CUDA)."""
        half = bool((self.opt.get('tile') or {}).get('half')) and self.device.type == 'cuda'
        return network_made_with(self.opt, role, half)

    def stale_roles(self, run_root):
        """``{role: why}`` for each role whose cached results in ``<run_root>/sr_<role>/`` were made by other network
        options or weights (``.made_with.json`` records :meth:`made_with` of the cached results; a cache without it
        is from an older DeSRA)."""
        stale = {}
        for role in self.roles:
            folder = os.path.join(run_root, f'sr_{role}')
            earlier, current = read_json_record(os.path.join(folder, '.made_with.json')), self.made_with(role)
            if earlier != current and os.path.isdir(folder) and os.listdir(folder):
                stale[role] = '; '.join(describe_changes(earlier, current)) if earlier else 'not recorded'
        return stale

    def discard_stale(self, run_root, logger):
        """Delete the cached results of the :meth:`stale_roles` (they are made again) and record what makes each
        role's results now. Rank 0 works, the other ranks wait for it."""
        if self.opt['rank'] == 0:
            for role, changes in self.stale_roles(run_root).items():
                folder = os.path.join(run_root, f'sr_{role}')
                logger.warning(f'{folder} holds results of other network_{role} options or weights ({changes}): '
                               'deleted, they are made again')
                remove_output_folder(folder, [root for _, root in input_folders(self.opt)])
            for role in self.roles:
                stamp = os.path.join(run_root, f'sr_{role}', '.made_with.json')
                if read_json_record(stamp) != self.made_with(role):
                    write_text(stamp, json.dumps(self.made_with(role), indent=1))
        if self.opt['dist']:
            dist.barrier()

    def load_network(self, role):
        """The :class:`desra.inference.TiledUpsampler` of ``role``'s network, built on first call.

        Raises:
            KeyError / FileNotFoundError: The network options or weights are missing (the message names them).
        """
        if role not in self._upsamplers:
            self._upsamplers[role] = build_upsampler(self.opt, role, self.device)
        return self._upsamplers[role]

    def missing_roles(self, item, overwrite=False):
        """The roles whose result ``item.sr_paths[role]`` does not exist yet (all roles with ``overwrite``)."""
        return [role for role in self.roles if overwrite or not os.path.isfile(item.sr_paths[role])]

    def prepare(self, items, run_root, overwrite=False):
        """Build now the networks that ``items`` need (missing results, or cached ones of other networks), so that
        bad options or weights stop the run before its folder is made."""
        needed = set(self.stale_roles(run_root))
        needed.update(role for item in items for role in self.missing_roles(item, overwrite))
        for role in self.roles:
            if role in needed:
                self.load_network(role)

    def ensure(self, item, overwrite=False):
        """Make the missing results of ``item`` (all of them with ``overwrite``) from ``item.lq_path``, read once; or,
        after :meth:`prefetch`, wait for the loader thread to have made them.

        Returns:
            DecodedImage | None: The LR image when it had to be read (for the caller's other uses), else None.

        Raises:
            ImageReadError: The LR image cannot be read (the message names it).
        """
        if self._prefetcher is not None:
            return self._prefetcher.get(item)
        return self.make_missing(item, overwrite)

    def make_missing(self, item, overwrite=False):
        """What :meth:`ensure` returns, made now in the calling thread."""
        missing = self.missing_roles(item, overwrite)
        if not missing:
            return None
        lq = decode_image(read_image(item.lq_path))
        for role in missing:
            upscale_decoded(self.load_network(role), lq, item.sr_paths[role])
        return lq

    def prefetch(self, items, depth):
        """Make the results of ``items`` (in this order, ``depth`` images ahead) on a loader thread from now on;
        :meth:`ensure` must then be called for them in the same order. Returns self, for :meth:`close`."""
        self._prefetcher = Prefetcher(partial(self.make_missing, overwrite=self.opt.get('overwrite', False)), items,
                                      depth)
        return self

    def close(self):
        """Stop the loader thread of :meth:`prefetch`; :meth:`ensure` works in the calling thread again."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None
