"""The committed demo images (datasets/demo) and the script that makes them (scripts/make_demo_data.py)."""
import importlib.util
import os
import subprocess
import sys

import cv2
import numpy as np
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, 'datasets', 'demo')
SCRIPT = os.path.join(REPO, 'scripts', 'make_demo_data.py')


def load_script():
    spec = importlib.util.spec_from_file_location('make_demo_data', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_splits():
    with open(os.path.join(DEMO, 'splits.yml'), encoding='utf-8') as f:
        return yaml.safe_load(f)


def test_script_regenerates_the_committed_images_exactly(tmp_path):
    """Same pixels, bit for bit. (With the same OpenCV build the files are byte-identical too; the test compares
    decoded pixels so that another PNG encoder build does not fail it.)"""
    names = ['grass_top', 'coins']
    result = subprocess.run([sys.executable, SCRIPT, '--output_dir', str(tmp_path), '--names', *names],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name in names:
        for kind in ('lr', 'hr'):
            made = cv2.imread(str(tmp_path / kind / f'{name}.png'), cv2.IMREAD_UNCHANGED)
            committed = cv2.imread(os.path.join(DEMO, kind, f'{name}.png'), cv2.IMREAD_UNCHANGED)
            assert made.shape == committed.shape and np.array_equal(made, committed), (kind, name)
    assert sorted(os.listdir(tmp_path / 'lr')) == ['coins.png', 'grass_top.png']
    assert not (tmp_path / 'splits.yml').exists()  # a partial run leaves the split lists alone


def test_splits_list_every_demo_image_once():
    splits = read_splits()
    assert set(splits) == {'finetune', 'validation', 'heldout'}
    finetune, heldout = splits['finetune'], splits['heldout']
    assert 4 <= len(finetune) <= 8 and 10 <= len(heldout) <= 12
    assert not set(finetune) & set(heldout)
    assert set(splits['validation']) <= set(finetune)  # validation images are fine-tuning images, never held out
    # at least 5 photos behind the held-out images
    assert len({load_script().DEMO_IMAGES[name].source for name in heldout}) >= 5
    assert len(set(finetune + heldout)) == len(finetune + heldout)
    with open(os.path.join(DEMO, 'splits.yml'), encoding='utf-8') as f:
        assert f.read() == load_script().splits_yaml()
    assert sorted(os.listdir(os.path.join(DEMO, 'lr'))) == sorted(f'{n}.png' for n in finetune + heldout)


def test_every_listed_image_exists_with_hr_four_times_lr():
    splits = read_splits()
    for name in splits['finetune'] + splits['heldout']:
        lr = cv2.imread(os.path.join(DEMO, 'lr', f'{name}.png'), cv2.IMREAD_UNCHANGED)
        hr = cv2.imread(os.path.join(DEMO, 'hr', f'{name}.png'), cv2.IMREAD_UNCHANGED)
        assert lr is not None and hr is not None, name
        assert lr.dtype == hr.dtype == 'uint8' and lr.ndim == hr.ndim == 3 and lr.shape[2] == hr.shape[2] == 3
        assert hr.shape[:2] == (4 * lr.shape[0], 4 * lr.shape[1]), name
        # the held-out strips of grass and IHC are 32 LR pixels high (128 HR: NIQE's 96-px blocks fit), page 47
        assert 32 <= min(lr.shape[:2]) and max(lr.shape[:2]) <= 160, name


def test_lr_is_a_degraded_copy_of_hr():
    """The LR image is the HR region shrunk 4x plus mild blur, noise and JPEG: close to it, but not equal.

    (The LR image of one region against the HR image of another region of the same photo errs by 30 or more.)
    """
    splits = read_splits()
    for name in splits['finetune'] + splits['heldout']:
        lr = cv2.imread(os.path.join(DEMO, 'lr', f'{name}.png')).astype(float)
        hr = cv2.imread(os.path.join(DEMO, 'hr', f'{name}.png'))
        shrunk = cv2.resize(hr, (lr.shape[1], lr.shape[0]), interpolation=cv2.INTER_AREA).astype(float)
        error = abs(lr - shrunk).mean()
        assert 1 < error < 15, (name, error)


def test_degradation_depends_only_on_the_name():
    script = load_script()
    first, _ = script.sample_degradation('grass_top')
    again, _ = script.sample_degradation('grass_top')
    other, _ = script.sample_degradation('grass_bottom_a')
    assert first == again != other


def test_heldout_regions_share_no_pixel_with_finetune_regions():
    images = load_script().DEMO_IMAGES
    splits = read_splits()
    for index, held in enumerate(splits['heldout']):  # nor with another held-out image
        for tuned in splits['finetune'] + splits['heldout'][index + 1:]:
            a, b = images[held], images[tuned]
            if a.source == b.source:
                rows_overlap = a.top < b.top + b.height and b.top < a.top + a.height
                cols_overlap = a.left < b.left + b.width and b.left < a.left + a.width
                assert not (rows_overlap and cols_overlap), (held, tuned)
