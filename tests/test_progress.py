"""Progress bars: rank 0 only, a bar for the tiles of a very large image and none for a few tiles."""
import numpy as np
import pytest
from conftest import make_tiny_rrdbnet

from desra.batch import progress
from desra.inference import TiledUpsampler
from desra.inference.tiled_upsampler import TILE_BAR_MIN


@pytest.mark.parametrize('rank, total, shown', [(0, 5, True), (1, 5, False), (0, 0, False), (0, 3, False)])
def test_bar_only_on_rank_zero_and_with_enough_steps(monkeypatch, rank, total, shown):
    monkeypatch.setattr(progress, 'get_dist_info', lambda: (rank, 2))
    bar = progress.progress_bar(range(total), 'images', 'img', min_total=4 if total == 3 else 1)
    assert bar.disable is not shown
    assert list(bar) == list(range(total))


@pytest.mark.parametrize('tiles, shown', [(TILE_BAR_MIN, True), (TILE_BAR_MIN - 1, False)])
def test_tiles_bar_for_large_images_only(capsys, tiles, shown):
    """A 1 x ``tiles`` strip of 8-pixel tiles: the tiles bar counts them when there are at least TILE_BAR_MIN."""
    upsampler = TiledUpsampler(make_tiny_rrdbnet(), 4, tile=8, tile_pad=2)
    upsampler.upscale_rgb(np.random.default_rng(0).random((8, 8 * tiles, 3), dtype=np.float32))
    err = capsys.readouterr().err
    assert (f'tiles:   0%|          | 0/{tiles}' in err) is shown
    assert ('tiles' in err) is shown
