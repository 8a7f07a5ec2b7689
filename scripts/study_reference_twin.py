"""How close a reference twin comes to a GAN's true MSE parent (issue 16; figures in docs/benchmarks.md).

A GAN-SR model with no MSE parent is given a reference twin (``ReferenceTwinModel``: the GAN retrained with a pixel
loss). Whether the twin's artifact masks are the parent's can only be measured where the parent is known, so this
script makes a *controlled pair* on the offline photos and runs DeSRA's commands on it, as a user would:

1. the **parent**: a Real-ESRGAN Compact network (SRVGGNetCompact, 32 features, 8 convolutions, x4; 89k parameters)
   from a random start, trained with L1 only on LR / HR pairs made on the fly from the demo's fine-tuning photos with
   the first-order degradation the demo's LR images were made with (:func:`demo_degradation`; ``desra/train.py``
   with ``ReferenceTwinModel``, ``twin_mode: whole``: the twin mechanism, started from random weights instead of a
   GAN's);
2. the **GAN**: the parent fine-tuned with L1 + a GAN loss (``DeSRAModel`` with empty masks and the HR photo as the
   target everywhere, i.e. plain Real-ESRGAN-style GAN training without a perceptual loss, which needs VGG19 weights
   that are not available offline) on the demo's fine-tuning LR / HR pairs;
3. **twins** of that GAN (``options/make_reference_twin.yml`` with the same degradation): ``tail`` mode (the last
   tenth of the parameters) and ``whole`` mode, both from the GAN's weights, knowing nothing of the parent;
4. the GAN's **masks** (``desra/detect.py``, the demo's detector settings) with (a) the parent, (b) each twin, (c) a
   generic reference of another architecture (the demo MSE model, an RRDBNet) and (d) bicubic upsampling (a floor:
   its results are written to a folder and detected in folder mode), on the held-out and the fine-tuning images;
   pixel IoU, precision and recall of (b)-(d) against (a), pooled over the images, and DeSRA's part precision /
   recall;
5. **fine-tuning** the GAN with the twin's masks and with the parent's (the demo's recipe, each validated against
   its own reference, ``--seeds``), each judged on the held-out images by the *parent's* detector
   (``desra/test.py``): removal, addition, NIQE, detail retention;
6. when ``make demo-no-parent`` has made its twin of RealESRGAN_x4plus: that twin's masks against those of the demo
   MSE model on the held-out images (not independent evidence: the demo MSE model is itself a tail twin).

Everything is offline and continues where an interrupted run stopped (the commands resume; finished steps are
kept). Outputs: ``experiments/study_twin_*``, ``results/study_twin_*`` and ``experiments/study_twin/study.json``;
the printed tables are the ones in docs/benchmarks.md.

    python scripts/study_reference_twin.py [--seeds 0 1] [--parent_iter 1500] [--gan_iter 1500] [--twin_iter 400]
"""
import argparse
import json
import os
import sys
import time

import cv2
import numpy as np
import torch
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import desra  # noqa: E402,F401  (basicsr compatibility: before basicsr)
from basicsr.archs.srvgg_arch import SRVGGNetCompact  # noqa: E402
from desra.config.options import load_yaml  # noqa: E402
from desra.data.reference_twin_dataset import REAL_ESRGAN_KERNELS  # noqa: E402
from desra.io.images import write_image, write_text  # noqa: E402
from desra.io.names import read_name_list  # noqa: E402
from desra.metrics.detection_metrics import folder_mask_agreement  # noqa: E402
from desra.models.reference_twin_model import REAL_ESRGAN_DEGRADATION  # noqa: E402
from desra.weights.checkpoint import save_checkpoint_file  # noqa: E402
from scripts.run_demo import DEMO_MSE, run_step  # noqa: E402

STUDY = 'study_twin'
#: Where the commands write their runs (``path: experiments_root`` and ``results_root`` of basicsr / DeSRA).
EXPERIMENTS, RESULTS = 'experiments', 'results'
WORK = os.path.join(EXPERIMENTS, STUDY)
SPLITS = os.path.join('datasets', 'demo', 'splits.yml')
LR_DIR, HR_DIR = os.path.join('datasets', 'demo', 'lr'), os.path.join('datasets', 'demo', 'hr')
DEMO_TWIN_OPTIONS = os.path.join('options', 'demo', 'make_reference_twin.yml')
#: The controlled pair's architecture (basicsr's SRVGGNetCompact arguments).
COMPACT = dict(num_in_ch=3, num_out_ch=3, num_feat=32, num_conv=8, upscale=4, act_type='prelu')
#: The references compared with the parent: run name -> (kind for the log, what it is).
REFERENCES = {'twin_tail': 'twin', 'twin_whole': 'twin', 'generic': 'generic'}
#: Detector settings the masks are compared at: (threshold, min_area). ``demo``: the demo's (the fine-tuning uses
#: them); ``fine``: a higher threshold and smaller parts, for a GAN whose artifacts are faint or small.
DETECTOR_SETTINGS = {'demo': (0.7, 1000), 'fine': (0.8, 200)}


def checkpoint(name, file='net_g_latest.pth'):
    """``experiments/<name>/models/<file>``."""
    return os.path.join(EXPERIMENTS, name, 'models', file)


#: A value of :func:`set_option` that removes the option.
REMOVE = object()


def set_option(opt, dotted, value):
    """``opt[a][b][c] = value`` for ``dotted = 'a:b:c'``, making the dicts on the way (``value`` :data:`REMOVE`:
    delete the key)."""
    *parents, last = dotted.split(':')
    for key in parents:
        opt = opt.setdefault(key, {})
    if value is REMOVE:
        opt.pop(last, None)
    else:
        opt[last] = value


def write_options(name, template, settings):
    """Write ``<WORK>/options/<name>.yml``: the option file ``template`` with ``settings`` ({'a:b': value}) applied.

    Returns:
        str: The path, relative to the repository root (what the command is given).
    """
    opt = json.loads(json.dumps(load_yaml(os.path.join(REPO_ROOT, template))))
    for dotted, value in settings.items():
        set_option(opt, dotted, value)
    path = os.path.join(WORK, 'options', f'{name}.yml')
    os.makedirs(os.path.join(REPO_ROOT, WORK, 'options'), exist_ok=True)
    write_text(os.path.join(REPO_ROOT, path),
               f'# made by scripts/study_reference_twin.py from {template}\n' + yaml.safe_dump(opt, sort_keys=False))
    return path


def train(title, name, template, settings):
    """``desra/train.py -opt <options> --auto_resume``, skipped when ``experiments/<name>`` has its last checkpoint."""
    if os.path.isfile(os.path.join(REPO_ROOT, checkpoint(name))):
        print(f'\n=== {title}: kept ({checkpoint(name)} exists)')
        return
    run_step(title, ['desra/train.py', '-opt', write_options(name, template, {'name': name, **settings}),
                     '--auto_resume'])


def demo_degradation():
    """The degradation options of ``options/demo/make_reference_twin.yml`` (the first order of Real-ESRGAN's that
    the demo's LR images and its MSE model were made with) as :func:`write_options` settings: the parent and the
    twins are trained on it, the GAN on the demo's own LR / HR pairs, so all three see one kind of input."""
    opt = load_yaml(os.path.join(REPO_ROOT, DEMO_TWIN_OPTIONS))
    settings = {key: opt[key] for key in REAL_ESRGAN_DEGRADATION if key in opt and key != 'gt_usm'}
    settings.update({f'datasets:train:{key}': opt['datasets']['train'][key] for key in REAL_ESRGAN_KERNELS
                     if key in opt['datasets']['train']})
    return settings


def random_start():
    """The parent's random initial weights (``<WORK>/compact_x4_init.pth``, seed 0), written once."""
    path = os.path.join(WORK, 'compact_x4_init.pth')
    if not os.path.isfile(os.path.join(REPO_ROOT, path)):
        torch.manual_seed(0)
        os.makedirs(os.path.join(REPO_ROOT, WORK), exist_ok=True)
        save_checkpoint_file({'params': SRVGGNetCompact(**COMPACT).state_dict()}, os.path.join(REPO_ROOT, path))
    return path


def make_controlled_pair(args):
    """Train the parent, then the GAN from it; return the GAN's checkpoint (module docstring, steps 1-2)."""
    parent_iter = args.parent_iter
    train('Controlled parent: a Compact x4 network from random weights, L1 on degraded photos', f'{STUDY}_parent',
          'options/make_reference_twin.yml',
          {**demo_degradation(), 'path:pretrain_network_g': random_start(), 'train:twin_mode': 'whole',
           'train:ema_decay': 0.99,
           'train:optim_g:lr': 1e-3, 'train:total_iter': parent_iter, 'train:scheduler:periods': [parent_iter],
           'datasets:train:crop_pad_size': 160, 'datasets:train:batch_size_per_gpu': 8, 'num_gpu': 0,
           'val:val_freq': parent_iter, 'logger:save_checkpoint_freq': parent_iter, 'logger:print_freq': 200,
           'logger:use_tb_logger': False, 'queue_size': 160})
    gan_data = write_gan_dataset()
    gan_iter = args.gan_iter
    train('Controlled GAN: the parent fine-tuned with L1 + GAN loss on the demo\'s fine-tuning pairs', f'{STUDY}_gan',
          'options/demo/finetune.yml',
          {'network_g': {'type': 'auto'}, 'path:pretrain_network_g': checkpoint(f'{STUDY}_parent'),
           'path:param_key_g': 'auto', 'network_d:num_feat': 32, 'train:target_outside': 'pseudo_gt',
           'train:ema_decay': 0, 'train:optim_g:lr': 2e-4, 'train:pixel_opt:loss_weight': 0.1,
           'train:gan_opt:loss_weight': 1.0,
           'train:total_iter': gan_iter,
           'train:scheduler:milestones': [gan_iter], 'train:masked_pixel_opt': None,
           'datasets:train:gt_size': 64,
           'datasets:train:batch_size_per_gpu': 4, 'datasets:train:artifact_crop_prob': 0,
           'datasets:train:dataset_enlarge_ratio': 50,
           **{f'datasets:train:{key}': value for key, value in gan_data.items()},
           'val': REMOVE, 'datasets:val': REMOVE, 'logger:save_checkpoint_freq': gan_iter, 'logger:print_freq': 100})
    return checkpoint(f'{STUDY}_gan')


def write_gan_dataset():
    """The GAN's training data in DeSRADataset's layout: the demo's fine-tuning LR images, their HR photos as the
    target everywhere and empty masks (``<WORK>/gan_data``). Returns the dataset's ``dataroot_*`` options."""
    root = os.path.join(WORK, 'gan_data')
    names = read_name_list(os.path.join(REPO_ROOT, SPLITS), 'finetune')
    os.makedirs(os.path.join(REPO_ROOT, root, 'mask'), exist_ok=True)
    for name in names:
        mask = os.path.join(REPO_ROOT, root, 'mask', f'{name}.png')
        if not os.path.isfile(mask):
            hr = cv2.imread(os.path.join(REPO_ROOT, HR_DIR, f'{name}.png'))
            write_image(mask, np.zeros(hr.shape[:2], np.uint8))
    write_text(os.path.join(REPO_ROOT, root, 'meta_info.txt'), ''.join(f'{name}.png\n' for name in names))
    return {'dataroot_gt': HR_DIR, 'dataroot_lq': LR_DIR, 'dataroot_mask': os.path.join(root, 'mask'),
            'meta_info_file': os.path.join(root, 'meta_info.txt')}


def make_twins(gan, args):
    """The GAN's twins in tail and whole mode (step 3)."""
    common = {**demo_degradation(), 'path:pretrain_network_g': gan, 'num_gpu': 0, 'train:total_iter': args.twin_iter,
              'train:scheduler:periods': [args.twin_iter], 'val:val_freq': args.twin_iter,
              'logger:save_checkpoint_freq': args.twin_iter, 'logger:print_freq': 100, 'logger:use_tb_logger': False,
              'datasets:train:crop_pad_size': 160, 'datasets:train:batch_size_per_gpu': 8, 'queue_size': 160}
    train('Twin of the controlled GAN, tail mode', f'{STUDY}_twin_tail', 'options/make_reference_twin.yml',
          {**common, 'train:twin_mode': 'tail', 'train:feature_pool': 24})
    train('Twin of the controlled GAN, whole mode', f'{STUDY}_twin_whole', 'options/make_reference_twin.yml',
          {**common, 'train:twin_mode': 'whole'})


def study_images():
    """``<WORK>/images.yml`` (held-out and fine-tuning names of the demo under ``study``) and the two lists."""
    heldout = read_name_list(os.path.join(REPO_ROOT, SPLITS), 'heldout')
    finetune = read_name_list(os.path.join(REPO_ROOT, SPLITS), 'finetune')
    path = os.path.join(WORK, 'images.yml')
    write_text(os.path.join(REPO_ROOT, path), yaml.safe_dump({'study': heldout + finetune}))
    return path, {'held-out': heldout, 'fine-tuning': finetune}


def detect(title, name, gan, mse, kind, images, setting='demo'):
    """``desra/detect.py`` of ``gan`` against the reference ``mse`` (LR mode, :data:`DETECTOR_SETTINGS` ``setting``,
    no segmenter) on the study's images; returns the run folder."""
    threshold, min_area = DETECTOR_SETTINGS[setting]
    run_step(title, ['desra/detect.py', '-opt', write_options(name, 'options/detect_no_parent.yml', {
        'name': name, 'datasets:detect:dataroot_lq': LR_DIR, 'datasets:detect:meta_info_file': images,
        'datasets:detect:meta_info_key': 'study', 'path:pretrain_network_mse': mse, 'path:pretrain_network_gan': gan,
        'reference': kind, 'detector:threshold': threshold, 'detector:min_area': min_area,
        'detector:segmenter': {'type': 'none'}, 'num_gpu': 0})])
    return os.path.join(RESULTS, name)


def detect_bicubic(name, gan_run, images, setting='demo'):
    """Detection with bicubic upsampling (OpenCV) of the LR images as the reference, in folder mode, against the GAN
    results of ``gan_run`` (:data:`DETECTOR_SETTINGS` ``setting``); returns the run folder."""
    threshold, min_area = DETECTOR_SETTINGS[setting]
    folder = os.path.join(WORK, 'bicubic')
    os.makedirs(os.path.join(REPO_ROOT, folder), exist_ok=True)
    for image in read_name_list(os.path.join(REPO_ROOT, images), 'study'):
        out = os.path.join(REPO_ROOT, folder, f'{image}.png')
        if not os.path.isfile(out):
            lr = cv2.imread(os.path.join(REPO_ROOT, LR_DIR, f'{image}.png'))
            write_image(out, cv2.resize(lr, (lr.shape[1] * 4, lr.shape[0] * 4), interpolation=cv2.INTER_CUBIC))
    run_step('Detection with bicubic upsampling as the reference (the floor)', [
        'desra/detect.py', '-opt', write_options(name, 'options/detect_no_parent.yml', {
            'name': name, 'datasets:detect:dataroot_lq': LR_DIR, 'datasets:detect:dataroot_mse': folder,
            'datasets:detect:dataroot_gan': os.path.join(gan_run, 'sr_gan'), 'datasets:detect:meta_info_file': images,
            'datasets:detect:meta_info_key': 'study', 'reference': 'generic', 'detector:threshold': threshold,
            'detector:min_area': min_area, 'detector:segmenter': {'type': 'none'}, 'num_gpu': 0})])
    return os.path.join(RESULTS, name)


def agreement_record(a):
    """A :class:`desra.metrics.detection_metrics.MaskAgreement` as a JSON-ready dict (undefined figures: null)."""
    def figure(value):
        return None if np.isnan(value) else value

    return {'images': a.scores.images, 'images_with_parent_artifacts': a.images_with_reference_parts,
            'pixel_iou': figure(a.pixel_iou), 'pixel_precision': figure(a.pixel_precision),
            'pixel_recall': figure(a.pixel_recall), 'mean_iou': figure(a.scores.iou),
            'part_precision': figure(a.scores.precision), 'part_recall': figure(a.scores.recall),
            'reference_pixels': a.pixels, 'parent_pixels': a.reference_pixels}


def finetune_and_judge(gan, parent, masks_run, label, seed, setting='demo'):
    """Build the dataset from ``masks_run``'s masks, fine-tune the GAN on it (the demo's recipe, validated against
    that run's MSE-SR), and judge the selected checkpoint on the held-out images with the parent as the reference;
    the validation and the judge detect with :data:`DETECTOR_SETTINGS` ``setting`` (that of the masks).

    Returns:
        str: The evaluation's run folder (its ``finetune_eval.json``: :func:`evaluation_summary`).
    """
    tag = f'{label}_seed{seed}'
    threshold, min_area = DETECTOR_SETTINGS[setting]
    build = os.path.join(RESULTS, f'{STUDY}_build_{label}')
    run_step(f'Build the artifact-mask dataset from the {label} masks', [
        'desra/build_dataset.py', '-opt', write_options(f'{STUDY}_build_{label}', 'options/demo/build_dataset.yml', {
            'name': f'{STUDY}_build_{label}', **{f'datasets:build:dataroot_{kind}': os.path.join(masks_run, folder)
                                                 for kind, folder in (('mask', 'masks'), ('mse', 'sr_mse'),
                                                                      ('gan', 'sr_gan'))}})])
    name = f'{STUDY}_finetune_{tag}'
    train(f'Fine-tune the controlled GAN with the {label} masks, seed {seed}', name, 'options/demo/finetune.yml', {
        'manual_seed': seed, 'network_g': {'type': 'auto'}, 'path:pretrain_network_g': gan, 'path:param_key_g': 'auto',
        **{f'datasets:train:dataroot_{kind}': os.path.join(build, kind) for kind in ('gt', 'lq', 'mask')},
        'datasets:train:meta_info_file': os.path.join(build, 'meta_info.txt'),
        'datasets:val:dataroot_mse': os.path.join(masks_run, 'sr_mse'), 'val:detector:threshold': threshold,
        'val:detector:min_area': min_area})
    test = f'{STUDY}_test_{tag}'
    run_step(f'Judge the {label}-mask fine-tuning on the held-out images with the parent', [
        'desra/test.py', '-opt', write_options(test, 'options/demo/test_finetune.yml', {
            'name': test, 'network_gan': {'type': 'auto'}, 'network_finetuned': {'type': 'auto'},
            'network_mse': {'type': 'auto'}, 'path:pretrain_network_gan': gan, 'path:pretrain_network_mse': parent,
            'path:pretrain_network_finetuned': checkpoint(name, 'net_g_best.pth'), 'reference': 'parent',
            'detector:threshold': threshold, 'detector:min_area': min_area})])
    return os.path.join(RESULTS, test)


def evaluation_summary(run):
    """The ``summary`` of ``<run>/finetune_eval.json`` (``desra/test.py``'s figures over the held-out images)."""
    with open(os.path.join(REPO_ROOT, run, 'finetune_eval.json'), encoding='utf-8') as f:
        return json.load(f)['summary']


def agreement_rows(runs, parent_run, sets):
    """``{reference: {image set: mask_agreement}}`` of each run in ``runs`` ({reference: run folder})."""
    return {ref: {label: agreement_record(folder_mask_agreement(os.path.join(REPO_ROOT, run, 'masks'),
                                                                os.path.join(REPO_ROOT, parent_run, 'masks'), names))
                  for label, names in sets.items()}
            for ref, run in runs.items()}


def twin_psnr(name):
    """The validation record of ``experiments/<name>/reference_twin.json`` (PSNR of the model and of bicubic)."""
    with open(os.path.join(REPO_ROOT, EXPERIMENTS, name, 'reference_twin.json'), encoding='utf-8') as f:
        return next(iter(json.load(f)['validation'].values()), None)


def fmt(value, digits=3):
    """``value`` with ``digits`` decimals, ``n/a`` when it is None."""
    return 'n/a' if value is None else f'{value:.{digits}f}'


def agreement_table(rows):
    """Markdown table of :func:`agreement_rows`."""
    lines = ['| reference | images | with parent artifacts | pixel IoU | pixel precision | pixel recall | '
             'mean IoU | part precision | part recall |', '|---|---|---|---|---|---|---|---|---|']
    for ref, sets in rows.items():
        for label, a in sets.items():
            lines.append(f'| {ref} | {label} ({a["images"]}) | {a["images_with_parent_artifacts"]} | '
                         f'{fmt(a["pixel_iou"])} | {fmt(a["pixel_precision"])} | {fmt(a["pixel_recall"])} | '
                         f'{fmt(a["mean_iou"])} | {fmt(a["part_precision"])} | {fmt(a["part_recall"])} |')
    return '\n'.join(lines)


def finetune_table(summaries):
    """Markdown table of the held-out judgements of the fine-tunings, one row per (masks, seed)."""
    lines = ['| masks | seed | removal | addition | texture reduction | NIQE GAN / fine-tuned | detail retention '
             'mean / min |', '|---|---|---|---|---|---|---|']
    for (label, seed), s in summaries.items():
        lines.append(f'| {label} | {seed} | {fmt(s.get("removal_rate"))} | {fmt(s.get("addition_rate"))} | '
                     f'{fmt(s.get("texture_reduction"))} | {fmt(s.get("mean_niqe_gan"))} / '
                     f'{fmt(s.get("mean_niqe_finetuned"))} | {fmt(s.get("mean_detail_retention"))} / '
                     f'{fmt(s.get("min_detail_retention"))} |')
    return '\n'.join(lines)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--parent_iter', type=int, default=1500, help='iterations of the controlled parent')
    parser.add_argument('--gan_iter', type=int, default=1500, help='iterations of the controlled GAN')
    parser.add_argument('--twin_iter', type=int, default=400, help='iterations of each twin')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1], help='fine-tuning seeds')
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.time()
    gan = make_controlled_pair(args)
    make_twins(gan, args)
    images, sets = study_images()
    parent = checkpoint(f'{STUDY}_parent')
    agreement, parent_runs, reference_runs = {}, {}, {}
    for setting, (threshold, min_area) in DETECTOR_SETTINGS.items():
        suffix, at = ('' if setting == 'demo' else f'_{setting}'), f' (threshold {threshold}, min_area {min_area})'
        parent_run = parent_runs[setting] = detect(f'Masks of the controlled GAN with its parent{at}',
                                                   f'{STUDY}_detect_parent{suffix}', gan, parent, 'parent', images,
                                                   setting)
        runs = reference_runs[setting] = {
            ref: detect(f'Masks of the controlled GAN with the {ref} reference{at}', f'{STUDY}_detect_{ref}{suffix}',
                        gan, DEMO_MSE if ref == 'generic' else checkpoint(f'{STUDY}_{ref}'), kind, images, setting)
            for ref, kind in REFERENCES.items()}
        runs['bicubic'] = detect_bicubic(f'{STUDY}_detect_bicubic{suffix}', parent_run, images, setting)
        agreement[setting] = agreement_rows(runs, parent_run, sets)

    realesrgan = None
    demo_twin = os.path.join(EXPERIMENTS, 'demo_no_parent_twin', 'models', 'net_g_latest.pth')
    if os.path.isfile(os.path.join(REPO_ROOT, demo_twin)):
        gan_x4plus = os.path.join(EXPERIMENTS, 'pretrained_models', 'RealESRGAN_x4plus.pth')
        demo_parent = detect('RealESRGAN_x4plus masks with the demo MSE model', f'{STUDY}_x4plus_demo_mse',
                             gan_x4plus, DEMO_MSE, 'parent', images)
        demo_twin_run = detect('RealESRGAN_x4plus masks with its demo-no-parent twin', f'{STUDY}_x4plus_twin',
                               gan_x4plus, demo_twin, 'twin', images)
        realesrgan = agreement_rows({'twin (demo-no-parent)': demo_twin_run}, demo_parent, sets)
    else:
        print(f'\nskipped: RealESRGAN_x4plus twin-vs-demo-MSE masks ({demo_twin} is missing: run make demo-no-parent)')

    summaries = {}  # the demo's settings with the tail twin's masks, the finer ones with the whole twin's
    for setting, twin in (('demo', 'twin_tail'), ('fine', 'twin_whole')):
        for ref, run in (('parent', parent_runs[setting]), (twin, reference_runs[setting][twin])):
            label = ref if setting == 'demo' else f'{ref}_{setting}'
            for seed in args.seeds:
                summaries[(label, seed)] = evaluation_summary(
                    finetune_and_judge(gan, parent, run, label, seed, setting))

    psnr = {name: twin_psnr(f'{STUDY}_{name}') for name in ('parent', 'twin_tail', 'twin_whole')}
    result = {'args': vars(args), 'minutes': (time.time() - start) / 60, 'psnr': psnr, 'agreement': agreement,
              'realesrgan_x4plus': realesrgan,
              'finetune': [{'masks': label, 'seed': seed, 'summary': s} for (label, seed), s in summaries.items()]}
    write_text(os.path.join(REPO_ROOT, WORK, 'study.json'), json.dumps(result, indent=2) + '\n')

    print(f'\nStudy finished in {result["minutes"]:.1f} min (this run); {WORK}/study.json')
    for name, record in psnr.items():
        if record:
            start = 'random start' if name == 'parent' else 'the controlled GAN'
            print(f'  {name}: PSNR {record["psnr"]:.2f} dB ({start} {fmt(record.get("psnr_gan"), 2)} dB, bicubic '
                  f'{record["psnr_bicubic"]:.2f} dB) on the held-out images after {record["iter"]} iterations')
    for setting, (threshold, min_area) in DETECTOR_SETTINGS.items():
        print(f'\nMasks of the controlled GAN against its parent\'s, threshold {threshold}, min_area {min_area}:\n'
              + agreement_table(agreement[setting]))
    if realesrgan:
        print('\nRealESRGAN_x4plus, against the demo MSE model\'s masks:\n' + agreement_table(realesrgan))
    print('\nFine-tuning judged by the parent on the held-out images:\n' + finetune_table(summaries))


if __name__ == '__main__':
    main()
