"""DeSRADataset (aligned crops, shared augmentation, artifact-centred crops, errors) and DeterministicSampler."""
import itertools
import re

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from desra.data.aligned_crop import ArtifactParts, LQWindow, random_window, window_around
from desra.data.desra_dataset import DeSRADataset
from desra.data.deterministic_sampler import DeterministicSampler, sample_seed
from tests.conftest import upsample

SCALE = 4
KEYS = ('lq', 'gt', 'mask')


def mask_of(gt):
    """The test masks are a function of the GT: red channel 255 (only in the planted artifact part)."""
    return gt[..., 0] == 255


def make_dataset_folders(root, names=('x', 'y'), lq_shape=(20, 24)):
    """GT = nearest-upsampled random LR; one planted 2x3 LR-pixel artifact part (red = 255) near the top-left."""
    rng = np.random.default_rng(3)
    for folder in ('lq', 'gt', 'mask'):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in names:
        lq_rgb = rng.integers(0, 250, (*lq_shape, 3), dtype=np.uint8)
        lq_rgb[1:3, 2:5, 0] = 255
        gt_rgb = upsample(lq_rgb)
        cv2.imwrite(str(root / 'lq' / f'{name}.png'), lq_rgb[..., ::-1])
        cv2.imwrite(str(root / 'gt' / f'{name}.png'), gt_rgb[..., ::-1])
        cv2.imwrite(str(root / 'mask' / f'{name}.png'), mask_of(gt_rgb).astype(np.uint8) * 255)
    return root


def dataset_options(root, **extra):
    opt = {'dataroot_gt': str(root / 'gt'), 'dataroot_lq': str(root / 'lq'), 'dataroot_mask': str(root / 'mask'),
           'io_backend': {'type': 'disk'}, 'scale': SCALE, 'phase': 'train', 'gt_size': 16, 'use_hflip': True,
           'use_rot': True, 'artifact_crop_prob': 0.0}
    opt.update(extra)
    return opt


def to_hwc(tensor):
    return tensor.numpy().transpose(1, 2, 0)


def assert_aligned(item):
    """LR, GT and mask crops show the same place: gt = up(lq) and mask = f(gt), pixel by pixel."""
    lq, gt, mask = to_hwc(item['lq']), to_hwc(item['gt']), to_hwc(item['mask'])
    assert lq.shape == (4, 4, 3) and gt.shape == (16, 16, 3) and mask.shape == (16, 16, 1)
    np.testing.assert_array_equal(gt, upsample(lq))
    np.testing.assert_array_equal(mask[..., 0], mask_of(np.round(gt * 255)))


def dihedral(img):
    """The 8 results of hflip x vflip x transpose on an (H, W, C) array."""
    results = []
    for hflip, vflip, transpose in itertools.product((False, True), repeat=3):
        out = img[:, ::-1] if hflip else img
        out = out[::-1] if vflip else out
        results.append(out.transpose(1, 0, 2) if transpose else out)
    return results


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    return make_dataset_folders(tmp_path_factory.mktemp('desra_dataset'))


# ---------------------------------------------------------------------------------------------------- dataset items
def test_item_types_ranges_and_paths(folders):
    item = DeSRADataset(dataset_options(folders))[(0, 5)]
    assert item['lq'].dtype == item['gt'].dtype == item['mask'].dtype == torch.float32
    assert 0 <= item['gt'].min() and item['gt'].max() <= 1
    assert set(item['mask'].unique().tolist()) <= {0.0, 1.0}
    assert item['gt_path'].endswith('gt/x.png') and item['mask_path'].endswith('mask/x.png')


def test_crops_are_aligned_and_augmented_alike(folders):
    dataset = DeSRADataset(dataset_options(folders, artifact_crop_prob=0.5))
    for seed in range(40):
        assert_aligned(dataset[(seed % 2, seed)])


def test_augmentation_is_one_dihedral_transform_of_the_unaugmented_crop(folders):
    plain = DeSRADataset(dataset_options(folders, use_hflip=False, use_rot=False))
    augmented = DeSRADataset(dataset_options(folders))
    seen = set()
    for seed in range(24):
        base, item = plain[(0, seed)], augmented[(0, seed)]  # the window is drawn before the flips: same crop
        transformed = zip(*(dihedral(to_hwc(base[key])) for key in KEYS))  # 8 (lq, gt, mask) triples
        outputs = [to_hwc(item[key]) for key in KEYS]
        matches = [i for i, triple in enumerate(transformed) if all(map(np.array_equal, triple, outputs))]
        assert matches  # the same transform on all three
        seen.add(matches[0])
    assert len(seen) > 3


def test_artifact_centred_crops_contain_mask_pixels(folders):
    centred = DeSRADataset(dataset_options(folders, artifact_crop_prob=1.0))
    uniform = DeSRADataset(dataset_options(folders, artifact_crop_prob=0.0))
    assert all(centred[(0, seed)]['mask'].any() for seed in range(30))
    assert not all(uniform[(0, seed)]['mask'].any() for seed in range(30))  # the part is small: the test means it


def former_random_window(rng, mask, lq_shape, lq_size, scale, artifact_crop_prob):
    """random_window as it was before the parts were kept: the mask labelled again for every crop."""
    if rng.random() < artifact_crop_prob and mask.any():
        num_labels, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        rows, cols = np.nonzero(labels == rng.integers(1, num_labels))
        pick = rng.integers(len(rows))
        return window_around((int(rows[pick]), int(cols[pick])), lq_shape, lq_size, scale)
    return LQWindow(int(rng.integers(lq_shape[0] - lq_size + 1)), int(rng.integers(lq_shape[1] - lq_size + 1)),
                    lq_size, lq_size)


def test_kept_artifact_parts_give_the_windows_of_labelling_every_crop():
    """Same seed, same window as before the parts were kept: runs resumed across the change see the same crops."""
    mask = np.random.default_rng(0).random((80, 96)) > 0.97  # scattered pixels: many parts of 1 to a few pixels
    mask[40:60, 10:50] = True
    parts = ArtifactParts.from_mask(mask)
    assert len(parts) > 50 and sum(parts.area(part) for part in range(len(parts))) == mask.sum()
    assert all(mask[parts.pixel(part, index)] for part in range(len(parts)) for index in (0, parts.area(part) - 1))
    for seed in range(300):
        expected = former_random_window(np.random.default_rng(seed), mask, (20, 24), 4, SCALE, 0.7)
        assert random_window(np.random.default_rng(seed), parts, (20, 24), 4, SCALE, 0.7) == expected
    empty = ArtifactParts.from_mask(np.zeros((80, 96), bool))
    assert len(empty) == 0
    assert (random_window(np.random.default_rng(1), empty, (20, 24), 4, SCALE, 1.0)
            == former_random_window(np.random.default_rng(1), np.zeros((80, 96), bool), (20, 24), 4, SCALE, 1.0))


def test_each_mask_is_labelled_once(folders, monkeypatch):
    calls = []
    label = cv2.connectedComponents
    monkeypatch.setattr(cv2, 'connectedComponents', lambda *args, **kwargs: calls.append(1) or label(*args, **kwargs))
    dataset = DeSRADataset(dataset_options(folders, artifact_crop_prob=1.0))
    items = [dataset[(seed % 2, seed)] for seed in range(20)]
    assert len(calls) == 2  # one per image, not one per crop
    assert all(item['mask'].any() for item in items)


def test_same_index_and_seed_give_identical_items(folders):
    dataset = DeSRADataset(dataset_options(folders, artifact_crop_prob=0.5))
    first, again, other = dataset[(1, 99)], dataset[(1, 99)], dataset[(1, 100)]
    for key in KEYS:
        assert torch.equal(first[key], again[key])
    assert not all(torch.equal(first[key], other[key]) for key in KEYS)


def test_int_index_draws_the_seed_from_numpy_global_generator(folders):
    dataset = DeSRADataset(dataset_options(folders))
    np.random.seed(11)
    first = dataset[0]
    np.random.seed(11)
    assert torch.equal(dataset[0]['gt'], first['gt'])


def test_val_phase_returns_whole_images(folders):
    item = DeSRADataset(dataset_options(folders, phase='val'))[1]
    assert item['lq'].shape == (3, 20, 24) and item['gt'].shape == (3, 80, 96) and item['mask'].shape == (1, 80, 96)
    assert item['mask'].sum() == 2 * 3 * SCALE * SCALE


def test_meta_info_file_selects_images_and_accepts_basicsr_shapes(folders, tmp_path):
    meta = tmp_path / 'meta_info.txt'
    meta.write_text('y.png (80,96,3)\n\n')  # basicsr's style; the builder writes 'y.png'
    dataset = DeSRADataset(dataset_options(folders, meta_info_file=str(meta)))
    assert len(dataset) == 1 and dataset.paths[0]['gt_path'].endswith('gt/y.png')


# --------------------------------------------------------------------------------------------------------- bad input
def test_missing_mask_is_reported_at_construction(tmp_path):
    root = make_dataset_folders(tmp_path)
    (root / 'mask' / 'y.png').unlink()
    expected = r'1 image\(s\) cannot be used:\n  .*gt/y\.png: no mask y\.\* in .*/mask$'
    with pytest.raises(FileNotFoundError, match=expected):
        DeSRADataset(dataset_options(root))


def test_size_mismatch_names_the_files_and_shapes(tmp_path):
    root = make_dataset_folders(tmp_path, names=('x', ))
    cv2.imwrite(str(root / 'mask' / 'x.png'), np.zeros((80, 90), np.uint8))
    with pytest.raises(ValueError, match=r'so HR should be 80x96.*gt/x\.png is 80x96, mask .*mask/x\.png is 80x90'):
        DeSRADataset(dataset_options(root))[0]


def test_empty_dataset_names_the_folders(tmp_path):
    for folder in ('gt', 'lq', 'mask'):
        (tmp_path / folder).mkdir()
    with pytest.raises(ValueError, match=re.escape(f'no images in {tmp_path / "gt"}')):
        DeSRADataset(dataset_options(tmp_path))


def test_gt_size_must_be_a_multiple_of_scale(folders):
    with pytest.raises(ValueError, match='gt_size must be a multiple of scale'):
        DeSRADataset(dataset_options(folders, gt_size=18))


# ---------------------------------------------------------------------------------------------------------- sampler
def test_sampler_is_reproducible_and_changes_with_the_epoch():
    first, second = DeterministicSampler(10, seed=5), DeterministicSampler(10, seed=5)
    assert list(first) == list(second)
    assert sorted(index for index, _ in first) == list(range(10))
    epoch0 = list(first)
    first.set_epoch(1)
    assert list(first) != epoch0
    assert list(first)[3] == (list(first)[3][0], sample_seed(5, 1, 3))


def test_set_start_gives_the_tail_until_the_next_epoch():
    sampler = DeterministicSampler(7, seed=0, enlarge_ratio=3)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_start(15)
    assert list(sampler) == full[15:] and len(sampler) == 6
    sampler.set_epoch(2)
    assert list(sampler) == full and len(sampler) == 21
    with pytest.raises(ValueError, match='start 22 is not in'):
        sampler.set_start(22)


def test_set_start_counts_the_samples_of_this_rank():
    shard = DeterministicSampler(10, seed=2, num_replicas=3, rank=1)
    full = list(shard)
    shard.set_start(2)
    assert list(shard) == full[2:]


def test_shards_are_disjoint_and_cover_the_single_process_order():
    single = list(DeterministicSampler(10, seed=4, enlarge_ratio=2))
    shards = [list(DeterministicSampler(10, seed=4, num_replicas=3, rank=rank, enlarge_ratio=2)) for rank in range(3)]
    assert [len(shard) for shard in shards] == [7, 7, 7]  # 20 positions padded to 21
    interleaved = [pair for group in zip(*shards) for pair in group]
    assert interleaved[:20] == single  # position p goes to rank p % 3
    assert len({seed for _, seed in interleaved}) == 21  # disjoint: every position once
    assert sorted(index for index, _ in single) == sorted(list(range(10)) * 2)  # each image twice per epoch


def test_dataloader_workers_see_the_sampler_seeds(folders):
    dataset = DeSRADataset(dataset_options(folders, artifact_crop_prob=0.5))
    sampler = DeterministicSampler(len(dataset), seed=1, enlarge_ratio=2)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler, num_workers=1)
    batches = list(loader)
    assert set(batches[0]) == {'lq', 'gt', 'mask', 'lq_path', 'gt_path', 'mask_path'}
    expected = [dataset[pair]['gt'] for pair in sampler]
    assert torch.equal(torch.cat([batch['gt'] for batch in batches]), torch.stack(expected))
