"""The offline demo of a model with no MSE parent (``make demo-no-parent``): twin, detect, build, fine-tune, evaluate.

RealESRGAN_x4plus is treated as a GAN model that has no MSE parent. Each step is a DeSRA command, run as a user would:

1. ``desra/train.py -opt options/demo/make_reference_twin.yml``: its reference twin (tail mode, with the degradation
   the demo's MSE model was trained on, sized here for minutes on a CPU: :data:`TWIN_OVERRIDES`);
2. ``desra/detect.py -opt options/demo/detect.yml`` with the twin as the MSE model (the log and the report say
   ``reference: twin``), and once more with the demo's MSE model, the stand-in for the true parent, to measure how
   far the twin's masks are from the parent's (IoU, precision and recall of parts on the fine-tuning images);
3. ``desra/build_dataset.py`` and ``desra/train.py`` on the twin's masks (the demo's options, other folders; its
   checkpoint selection validates against the twin's MSE-SR results too, since the model has no parent);
4. ``desra/test.py -opt options/demo/test_finetune.yml`` of the selected checkpoint on the held-out images
   (``datasets/demo/splits.yml``) with the demo's MSE model as the judge, as ``make demo`` does.

It prints ``reference twin: <path>`` on its own line, the twin's validation PSNR beside the GAN's and bicubic's
(:func:`twin_psnr_line`), the twin-vs-parent mask figures and the usual removal /
addition / NIQE / detail figures with the demo's goals. Every step continues where an interrupted run stopped.
The demo's MSE model is itself a tail twin of RealESRGAN_x4plus (``datasets/demo/README.md``), so the IoU is no
independent evidence of how close a twin comes to a true parent.
"""
import json
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import desra  # noqa: E402,F401  (basicsr compatibility)
from desra.evaluation.summary import summary_text  # noqa: E402
from desra.metrics.detection_metrics import folder_mask_agreement  # noqa: E402
from desra.models.reference_twin_model import db_text  # noqa: E402
from scripts.run_demo import DEMO_MSE, goals_text, run_step  # noqa: E402

TWIN_NAME = 'demo_no_parent_twin'
TWIN = os.path.join('experiments', TWIN_NAME, 'models', 'net_g_latest.pth')
#: The demo twin cut for minutes on a 2-core CPU: the tail recipe's 24 pool images, as 128-px crops, and 300 of its 700
#: iterations of batch 8 (measured on the idle CPU: an iteration 0.63 s, the pool 8 s; the twin's whole run with its
#: two validations about 4 min).
TWIN_OVERRIDES = [f'name={TWIN_NAME}', 'datasets:train:crop_pad_size=128', 'train:total_iter=300',
                  'train:scheduler:periods=[300]', 'val:val_freq=300', 'logger:save_checkpoint_freq=300',
                  'logger:print_freq=50']
#: Run names of the other steps (results/<name>, experiments/<name>).
NAMES = {'detect': 'demo_no_parent_detect', 'parent': 'demo_no_parent_parent_detect',
         'build': 'demo_no_parent_build', 'finetune': 'demo_no_parent_finetune', 'test': 'demo_no_parent_test'}


def twin_psnr_line(name, result):
    """The twin's validation line: ``twin PSNR on <name>: X dB, GAN Y dB, bicubic Z dB (+a dB over the GAN)``, with
    ``; WORSE than bicubic`` and ``; NO closer to the HR than the GAN`` when so.

    Args:
        name (str): The validation set.
        result (dict): Its record in ``reference_twin.json`` (``psnr``, ``psnr_gan`` (None: unknown),
            ``psnr_bicubic`` in dB, ``worse_than_bicubic``, ``no_gain_over_gan``).
    """
    twin, gan = result['psnr'], result['psnr_gan']
    notes = ['GAN PSNR unknown' if gan is None else f'{twin - gan:+.2f} dB over the GAN']
    if result['worse_than_bicubic']:
        notes.append('WORSE than bicubic')
    if result['no_gain_over_gan']:
        notes.append('NO closer to the HR than the GAN')
    return (f'twin PSNR on {name}: {twin:.2f} dB, GAN {db_text(gan)}, bicubic {result["psnr_bicubic"]:.2f} dB '
            f'({"; ".join(notes)})')


def main():
    start = time.time()
    results = os.path.join('results')
    build = os.path.join(results, NAMES['build'])
    run_step('Reference twin of RealESRGAN_x4plus (tail mode, pixel loss only)',
             ['desra/train.py', '-opt', 'options/demo/make_reference_twin.yml', '--auto_resume',
              '--force_yml', *TWIN_OVERRIDES])
    run_step('Stage 1: detect the artifacts of RealESRGAN_x4plus with its twin as the reference',
             ['desra/detect.py', '-opt', 'options/demo/detect.yml', '--force_yml', f'name={NAMES["detect"]}',
              f'path:pretrain_network_mse={TWIN}'])
    run_step('Stage 1 with the demo MSE model (the parent stand-in), to compare the masks',
             ['desra/detect.py', '-opt', 'options/demo/detect.yml', '--force_yml', f'name={NAMES["parent"]}',
              f'path:pretrain_network_mse={DEMO_MSE}'])
    detected = os.path.join(results, NAMES['detect'])
    run_step('Stage 2: build the artifact-mask dataset from the twin\'s masks',
             ['desra/build_dataset.py', '-opt', 'options/demo/build_dataset.yml', '--force_yml',
              f'name={NAMES["build"]}', *(f'datasets:build:dataroot_{kind}={os.path.join(detected, folder)}'
                                          for kind, folder in (('mask', 'masks'), ('mse', 'sr_mse'),
                                                               ('gan', 'sr_gan')))])
    run_step('Stage 3: mask-guided GAN fine-tuning of RealESRGAN_x4plus (CPU)',
             ['desra/train.py', '-opt', 'options/demo/finetune.yml', '--auto_resume', '--force_yml',
              f'name={NAMES["finetune"]}',
              *(f'datasets:train:dataroot_{kind}={os.path.join(build, kind)}' for kind in ('gt', 'lq', 'mask')),
              f'datasets:train:meta_info_file={os.path.join(build, "meta_info.txt")}',
              f'datasets:val:dataroot_mse={os.path.join(detected, "sr_mse")}'])  # the twin: no parent to ask
    run_step('Proof on held-out images, judged with the demo MSE model',
             ['desra/test.py', '-opt', 'options/demo/test_finetune.yml', '--force_yml', f'name={NAMES["test"]}',
              f'path:pretrain_network_mse={DEMO_MSE}',
              f'path:pretrain_network_finetuned=experiments/{NAMES["finetune"]}/models/net_g_best.pth'])

    with open(os.path.join(REPO_ROOT, 'experiments', TWIN_NAME, 'reference_twin.json'), encoding='utf-8') as f:
        twin = json.load(f)
    agreement = folder_mask_agreement(os.path.join(REPO_ROOT, detected, 'masks'),
                                      os.path.join(REPO_ROOT, results, NAMES['parent'], 'masks'))
    with open(os.path.join(REPO_ROOT, results, NAMES['test'], 'finetune_eval.json'), encoding='utf-8') as f:
        evaluation = json.load(f)
    print(f'\nDemo (no parent) finished in {(time.time() - start) / 60:.1f} min.')
    print(f'reference twin: {os.path.join(REPO_ROOT, TWIN)}')
    for name, result in twin['validation'].items():
        print(f'  {twin_psnr_line(name, result)}')
    print(f'twin-vs-parent masks on the {agreement.scores.images} fine-tuning images (parent: the demo MSE model): '
          f'pixel IoU {agreement.pixel_iou:.3f}, precision {agreement.pixel_precision:.3f}, recall '
          f'{agreement.pixel_recall:.3f} (all mask pixels together); mean IoU per image {agreement.scores.iou:.3f}, '
          f'parts: precision {agreement.scores.precision:.3f}, recall {agreement.scores.recall:.3f}')
    print(f'Detection report (twin): {os.path.join(REPO_ROOT, detected, "index.html")}')
    print(f'Evaluation report: {os.path.join(REPO_ROOT, results, NAMES["test"], "index.html")}')
    print(summary_text(evaluation['summary'], evaluation['images']))
    print(goals_text(evaluation['summary']))


if __name__ == '__main__':
    main()
