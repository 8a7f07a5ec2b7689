"""The detection-evaluation scripts on tiny folders with known answers, and the baselines they run."""
import csv
import importlib.util
import os
import re

import cv2
import numpy as np
import pytest
import torch

import desra  # noqa: F401
from basicsr.losses.loss_util import get_local_weights
from desra.detection.baselines import ldl_variance_map, ssim_artifact_mask
from desra.metrics import ssim_map
from tests.conftest import REPO_ROOT, run_command


def run_script(name, *args):
    """Run a script in a fresh interpreter (``sys.executable``), as a user would."""
    return run_command([os.path.join('scripts', name), *map(str, args)], timeout=300)


def script_main(name):
    """A script's ``main(argv)``, loaded in this process: quicker for the error paths."""
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(REPO_ROOT, 'scripts', name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def write_mask(path, shape, *boxes):
    """Write a 0/255 uint8 mask with the given (top, bottom, left, right) boxes set."""
    mask = np.zeros(shape, np.uint8)
    for top, bottom, left, right in boxes:
        mask[top:bottom, left:right] = 255
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), mask)


def summary_lines(stdout):
    """``{first word: second word}`` of the summary lines eval_detection prints."""
    return {line.split()[0]: line.split()[1] for line in stdout.splitlines() if line.strip()}


@pytest.fixture
def mask_folders(tmp_path):
    """Two scored pairs (a: perfect, b: missed) in a subfolder, one prediction without a label."""
    pred, gt = tmp_path / 'pred', tmp_path / 'gt'
    write_mask(pred / 'sub' / 'a.png', (30, 30), (10, 20, 10, 20))
    write_mask(gt / 'sub' / 'a.bmp', (30, 30), (10, 20, 10, 20))  # paired across extensions
    write_mask(pred / 'sub' / 'b.png', (20, 20), (0, 4, 0, 4))  # valid size: the label is cropped by 5
    write_mask(gt / 'sub' / 'b.png', (30, 30), (15, 20, 15, 20))
    write_mask(pred / 'extra.png', (30, 30))
    return pred, gt


def test_eval_detection_scores_known_folders(mask_folders, tmp_path):
    pred, gt = mask_folders
    result = run_script('eval_detection.py', '--pred', pred, '--gt', gt, '--per_image', '--csv', tmp_path / 's.csv')
    assert result.returncode == 0, result.stderr
    summary = summary_lines(result.stdout)
    assert summary['images'] == '2'
    assert summary['IoU'] == '0.5000'  # mean of 1 and 0
    assert summary['precision'] == '0.5000' and '1/2 detected' in result.stdout
    assert summary['recall'] == '0.5000' and '1/2 labelled' in result.stdout
    assert 'sub/a  IoU 1.0000' in result.stdout and 'sub/b  IoU 0.0000' in result.stdout
    assert 'no labelled mask for prediction' in result.stderr and 'extra.png' in result.stderr
    with open(tmp_path / 's.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [(r['image'], float(r['iou']), r['detected_parts'], r['found_labelled_parts']) for r in rows] == [
        ('sub/a', 1.0, '1', '1'), ('sub/b', 0.0, '1', '0')]


def test_eval_detection_reports_bad_files_and_continues(mask_folders, capsys):
    pred, gt = mask_folders
    (gt / 'sub' / 'a.bmp').write_bytes(b'not an image')
    write_mask(pred / 'c.png', (25, 25))
    write_mask(gt / 'c.png', (30, 30))
    write_mask(gt / 'c.jpg', (30, 30))  # "c" is now ambiguous in gt
    write_mask(pred / 'd.png', (25, 25))
    write_mask(gt / 'd.png', (30, 30))
    assert script_main('eval_detection.py')(['--pred', str(pred), '--gt', str(gt)]) == 1
    out, err = capsys.readouterr()
    assert summary_lines(out)['images'] == '1'  # sub/b is still scored
    assert 'a.bmp: not a readable image' in err
    assert 'd.png (shape (25, 25)) does not fit' in err
    assert 'c.jpg' in err and 'c.png' in err


def test_eval_detection_fails_when_nothing_matches(tmp_path, capsys):
    write_mask(tmp_path / 'pred' / 'a.png', (30, 30))
    write_mask(tmp_path / 'gt' / 'b.png', (30, 30))
    assert script_main('eval_detection.py')(['--pred', str(tmp_path / 'pred'), '--gt', str(tmp_path / 'gt')]) == 1
    err = capsys.readouterr().err
    assert 'no prediction for labelled mask' in err and 'could be scored' in err


def test_ldl_variance_map_is_the_unbiased_local_variance_of_the_residual():
    mse = np.zeros((9, 9, 3))
    gan = np.zeros((9, 9, 3))
    gan[4, 4] = 255 / 3  # channel-summed residual: 1 at the centre, 0 elsewhere
    variance = ldl_variance_map(mse, gan)
    # a 7x7 window holding the single 1: mean 1/49, unbiased variance (1 - 49 * (1/49) ** 2) / 48 = 1/49
    assert variance[4, 4] == pytest.approx(1 / 49)
    assert variance[0, 0] == pytest.approx(0.0, abs=1e-12)  # reflection keeps the 1 out of the corner window


def test_ldl_variance_map_equals_basicsr_get_local_weights():
    rng = np.random.default_rng(0)
    mse, gan = rng.uniform(0, 255, (2, 23, 31, 3))
    residual = torch.from_numpy(np.abs(gan - mse).sum(axis=2) / 255)[None, None]
    expected = get_local_weights(residual, 7)[0, 0].numpy()
    np.testing.assert_allclose(ldl_variance_map(mse, gan), expected, rtol=0, atol=1e-12)


def test_ssim_baseline_flags_structure_that_differs():
    rng = np.random.default_rng(0)
    mse = np.full((96, 96, 3), 128.0)
    gan = mse.copy()
    gan[28:68, 28:68] = rng.uniform(0, 255, (40, 40, 3))
    assert ssim_map(mse, mse) == pytest.approx(np.ones((96, 96)))
    mask = ssim_artifact_mask(mse, gan, cleanup={'min_area': 50})
    assert mask[48, 48] and not mask[10, 80]
    assert not mask[:5].any() and not mask[:, -5:].any()  # the detector's border convention
    with pytest.raises(ValueError, match=r'differ in shape: \(96, 96, 3\) vs \(96, 95, 3\)'):
        ssim_artifact_mask(mse, gan[:, :95])


def make_synthetic_dataset(root, sr_models=('RealESRGAN', 'LDL', 'SwinIR')):
    """Per SR model one 96x96 pair: a smooth MSE-SR image, and a GAN-SR copy with noise in a 40x40 square."""
    rng = np.random.default_rng(1)
    mse = np.tile(np.linspace(60, 190, 96, dtype=np.float64)[None, :, None], (96, 1, 3))
    gan = mse.copy()
    gan[28:68, 28:68] += rng.normal(0, 60, (40, 40, 3))
    for sr_model in sr_models:
        for folder, img in (('MSE-SR', mse), ('GAN-SR', gan)):
            os.makedirs(root / sr_model / folder / 'sub', exist_ok=True)
            cv2.imwrite(str(root / sr_model / folder / 'sub' / 'img.png'), np.clip(img, 0, 255).astype(np.uint8))
        write_mask(root / sr_model / 'GT-Mask' / 'sub' / 'img.png', (96, 96), (28, 68, 28, 68))
    # the authors' released masks are valid size (cropped by 5): this one matches the label exactly
    write_mask(root / 'LDL' / 'DeSRA-Mask' / 'sub' / 'img.png', (86, 86), (23, 63, 23, 63))


def parse_table(stdout):
    """``{(sr_model, detector): row dict}`` from the printed table."""
    lines = stdout.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith('sr_model'))
    header = lines[header_at].split()
    rows = [dict(zip(header, line.split())) for line in lines[header_at + 1:] if line.strip()]
    assert all(len(row) == len(header) for row in rows)
    return {(row['sr_model'], row['detector']): row for row in rows}


def test_reproduce_detection_table_on_synthetic_dataset(tmp_path):
    make_synthetic_dataset(tmp_path / 'data')
    result = run_script('reproduce_detection_table.py', '--data_root', tmp_path / 'data', '--segmenter_type', 'none',
                        '--min_area', 50)
    assert result.returncode == 0, result.stderr
    table = parse_table(result.stdout)
    detectors = ('desra', 'ldl_baseline', 'ssim_baseline')
    assert set(table) == {(m, d) for m in ('RealESRGAN', 'LDL', 'SwinIR') for d in detectors} | {
        ('LDL', 'released_masks')}
    released = table['LDL', 'released_masks']
    assert (released['iou'], released['precision'], released['recall']) == ('1.0000', '1.0000', '1.0000')
    for row in table.values():
        assert row['images'] == '1'
        assert row['recall'] == '1.0000'  # the noisy square is found by every detector
        assert 0.3 < float(row['iou']) <= 1
        assert (row['paper_iou'], row['paper_precision'], row['paper_recall']) == ('n/a', 'n/a', 'n/a')


def test_reproduce_detection_table_reports_bad_images_and_goes_on(tmp_path, capsys):
    make_synthetic_dataset(tmp_path / 'data', sr_models=('LDL', 'SwinIR'))
    (tmp_path / 'data' / 'SwinIR' / 'GAN-SR' / 'sub' / 'img.png').write_bytes(b'broken')
    main = script_main('reproduce_detection_table.py')
    assert main(['--data_root', str(tmp_path / 'data'), '--detectors', 'ssim_baseline', '--min_area', '50']) == 1
    out, err = capsys.readouterr()
    table = parse_table(out)
    assert table['LDL', 'ssim_baseline']['images'] == '1' and table['SwinIR', 'ssim_baseline']['images'] == '0'
    assert table['SwinIR', 'ssim_baseline']['iou'] == 'n/a'
    assert 'SwinIR/GAN-SR/sub/img.png: not a readable image' in err
    assert 'RealESRGAN: missing one of the folders' in err


def test_reproduce_detection_table_says_where_to_get_segformer(tmp_path, capsys):
    make_synthetic_dataset(tmp_path / 'data', sr_models=('LDL',))
    main = script_main('reproduce_detection_table.py')
    assert main(['--data_root', str(tmp_path / 'data'), '--segformer_path', str(tmp_path / 'absent')]) == 2
    err = capsys.readouterr().err
    assert 'SegFormer weights' in err and '--segmenter_type none' in err


def test_reproduce_detection_table_says_what_to_download(tmp_path, capsys):
    assert script_main('reproduce_detection_table.py')(['--data_root', str(tmp_path / 'absent')]) == 2
    err = capsys.readouterr().err
    assert 'DeSRA artifact dataset was not found' in err
    assert 'drive.google.com' in err and 'pan.baidu.com' in err


def test_benchmark_detection_runs_against_the_release_and_the_whole_detection(tmp_path):
    from transformers import SegformerForSemanticSegmentation

    from tests.test_segmenter import randomise, tiny_config
    model_dir = tmp_path / 'segformer'
    randomise(SegformerForSemanticSegmentation(tiny_config())).save_pretrained(model_dir)
    whole = run_command(['scripts/benchmark_detection.py', '--mode', 'whole', '--segformer', str(model_dir),
                         '--size', '160x96', '--repeats', '1'])
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert re.search(r'^CPU, 160x96, segmenter .+, autocast auto: whole detection [\d.]+ images/s', whole.stdout, re.M)
    release = run_command(['scripts/benchmark_detection.py', '--size', '240x136', '--repeats', '1'])
    assert release.returncode == 0, release.stderr[-2000:]
    assert len(re.findall(r'^  map\+mask +release +[\d.]+ ms +ours +[\d.]+ ms +x[\d.]+$', release.stdout, re.M)) == 2
    bad = run_command(['scripts/benchmark_detection.py', '--size', '240'])
    assert bad.returncode == 2 and 'size must look like 1920x1080' in bad.stderr


def test_the_twin_study_writes_option_files_its_commands_accept(tmp_path, monkeypatch):
    """scripts/study_reference_twin.py derives every step's options from the shipped files: each one it writes
    passes the schema of the command it is given to, and the parent starts from random Compact weights."""
    from desra.config.options import load_yaml
    from desra.config.schema import check_options
    spec = importlib.util.spec_from_file_location('study_reference_twin',
                                                  os.path.join(REPO_ROOT, 'scripts', 'study_reference_twin.py'))
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    commands = []
    monkeypatch.setattr(study, 'WORK', str(tmp_path / 'work'))
    monkeypatch.setattr(study, 'EXPERIMENTS', str(tmp_path / 'experiments'))  # no run of this checkout is kept
    monkeypatch.setattr(study, 'RESULTS', str(tmp_path / 'results'))
    monkeypatch.setattr(study, 'run_step', lambda title, args: commands.append(args))
    monkeypatch.setattr('sys.argv', ['study_reference_twin.py', '--parent_iter', '8', '--gan_iter', '4'])
    args = study.parse_args()
    gan = study.make_controlled_pair(args)
    study.make_twins(gan, args)
    images, sets = study.study_images()
    assert sets['held-out'] and set(sets['held-out']).isdisjoint(sets['fine-tuning'])
    parent_run = study.detect('t', 'study_twin_detect_parent', gan, study.checkpoint('study_twin_parent'), 'parent',
                              images)
    study.detect_bicubic('study_twin_detect_bicubic', parent_run, images)
    assert study.finetune_and_judge(gan, 'p.pth', parent_run, 'parent_fine', 3, 'fine') == str(
        tmp_path / 'results' / 'study_twin_test_parent_fine_seed3')
    scripts = [command[0] for command in commands]
    assert scripts == ['desra/train.py'] * 4 + ['desra/detect.py'] * 2 + [
        'desra/build_dataset.py', 'desra/train.py', 'desra/test.py']
    for command in commands:
        opt = load_yaml(command[2])
        check_options(opt, os.path.basename(command[0])[:-3], command[2])
    parent = load_yaml(commands[0][2])
    assert (parent['train']['twin_mode'], parent['train']['total_iter']) == ('whole', 8)
    demo_twin = load_yaml(os.path.join(REPO_ROOT, 'options', 'demo', 'make_reference_twin.yml'))
    for opt in (parent, load_yaml(commands[2][2]), load_yaml(commands[3][2])):  # parent, twins: the demo degradation
        assert (opt['noise_range'], opt['jpeg_range2']) == (demo_twin['noise_range'], demo_twin['jpeg_range2'])
        assert opt['datasets']['train']['final_sinc_prob'] == demo_twin['datasets']['train']['final_sinc_prob'] == 0
    start = torch.load(parent['path']['pretrain_network_g'], weights_only=True)['params']
    assert start['body.0.weight'].shape == (32, 3, 3, 3)  # Compact, 32 features
    gan_opt = load_yaml(commands[1][2])
    assert 'val' not in gan_opt and set(gan_opt['datasets']) == {'train'}
    assert gan_opt['train']['target_outside'] == 'pseudo_gt' and gan_opt['network_g'] == {'type': 'auto'}
    masks = os.listdir(gan_opt['datasets']['train']['dataroot_mask'])
    assert sorted(m[:-4] for m in masks) == sorted(sets['fine-tuning'])
    assert load_yaml(commands[-2][2])['val']['detector']['min_area'] == study.DETECTOR_SETTINGS['fine'][1]
    assert load_yaml(commands[-1][2])['detector']['threshold'] == study.DETECTOR_SETTINGS['fine'][0]
    bicubic = load_yaml(commands[5][2])['datasets']['detect']['dataroot_mse']
    lr = cv2.imread(os.path.join(REPO_ROOT, 'datasets', 'demo', 'lr', 'page.png'))
    assert cv2.imread(os.path.join(bicubic, 'page.png')).shape == (4 * lr.shape[0], 4 * lr.shape[1], 3)
