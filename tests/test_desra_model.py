"""DeSRAModel / DeSRALDLModel on tiny networks: optimisation, mask guidance, checkpoint format, option errors."""
import copy
import os

import cv2
import numpy as np
import pytest
import torch
import yaml

import desra  # noqa: F401  (registrations)
from basicsr.archs.discriminator_arch import UNetDiscriminatorSN
from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.data import build_dataloader, build_dataset
from basicsr.models import build_model
from basicsr.utils import USMSharp
from basicsr.utils.options import ordered_yaml
from desra.detection import ArtifactDetector
from desra.inference import TiledUpsampler
from desra.io.images import decode_image, load_rgb255, read_image
from desra.losses.masked_loss import MaskedL1Loss
from desra.models.artifact_validation import to_rgb255
from tests.conftest import REPO_ROOT, TINY_RRDB_OPT, make_tiny_rrdbnet

TINY_SWINIR_OPT = {'type': 'SwinIR', 'upscale': 4, 'in_chans': 3, 'img_size': 16, 'window_size': 4, 'img_range': 1.,
                   'depths': [1], 'embed_dim': 12, 'num_heads': [2], 'mlp_ratio': 2, 'upsampler': 'nearest+conv',
                   'resi_connection': '1conv'}


def model_options(tmp_path, **train_overrides):
    """Options of a CPU DeSRAModel with a tiny RRDBNet and UNet discriminator, fresh weights."""
    train = {
        'ema_decay': 0.999,
        'optim_g': {'type': 'Adam', 'lr': 1e-3, 'weight_decay': 0, 'betas': [0.9, 0.99]},
        'optim_d': {'type': 'Adam', 'lr': 1e-3, 'weight_decay': 0, 'betas': [0.9, 0.99]},
        'scheduler': {'type': 'MultiStepLR', 'milestones': [1000], 'gamma': 0.5},
        'total_iter': 10,
        'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
        'masked_pixel_opt': {'type': 'MaskedL1Loss', 'loss_weight': 1.0},
        'gan_opt': {'type': 'RegionGANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1},
        'net_d_iters': 1,
        'net_d_init_iters': 0,
    }
    train.update(train_overrides)
    return {'name': 'unit', 'model_type': 'DeSRAModel', 'scale': 4, 'num_gpu': 0, 'is_train': True, 'dist': False,
            'rank': 0, 'world_size': 1, 'network_g': dict(TINY_RRDB_OPT),
            'network_d': {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': 8, 'skip_connection': True},
            'path': {'models': str(tmp_path / 'models')}, 'train': train}


def fixed_batch(seed=0, lq_size=8, scale=4):
    generator = torch.Generator().manual_seed(seed)
    size = lq_size * scale
    mask = torch.zeros(2, 1, size, size)
    mask[:, :, 4:20, 8:24] = 1
    return {'lq': torch.rand(2, 3, lq_size, lq_size, generator=generator),
            'gt': torch.rand(2, 3, size, size, generator=generator), 'mask': mask}


def build(opt):
    torch.manual_seed(0)
    return build_model(copy.deepcopy(opt))


def masked_l1_of_generator(model, batch):
    with torch.no_grad():
        return MaskedL1Loss()(model.net_g(batch['lq']), batch['gt'], batch['mask']).item()


def test_one_step_lowers_the_masked_l1(tmp_path):
    model = build(model_options(tmp_path, pixel_opt=None))
    batch = fixed_batch()
    before = masked_l1_of_generator(model, batch)
    model.feed_data(batch)
    model.optimize_parameters(1)
    assert masked_l1_of_generator(model, batch) < before
    assert set(model.get_current_log()) == {'l_g_masked_pix', 'l_g_gan', 'l_d_real', 'out_d_real', 'l_d_fake',
                                            'out_d_fake'}
    assert model.get_current_log()['l_g_masked_pix'] == pytest.approx(before, rel=1e-5)


def test_region_weights_change_the_step_and_need_region_losses(tmp_path):
    batch = fixed_batch()
    steps = {}
    for weight in (1.0, 0.0):
        model = build(model_options(tmp_path, gan_mask_weight=weight))
        model.feed_data(batch)
        model.optimize_parameters(1)
        steps[weight] = (model.get_current_log()['l_g_gan'], model.net_g.conv_last.weight.detach().clone())
    assert steps[1.0][0] != pytest.approx(steps[0.0][0])
    assert not torch.equal(steps[1.0][1], steps[0.0][1])
    with pytest.raises(ValueError, match='gan_mask_weight needs train:gan_opt of type RegionGANLoss'):
        build(model_options(tmp_path, gan_mask_weight=0.5, gan_opt={'type': 'GANLoss', 'gan_type': 'vanilla'}))
    with pytest.raises(ValueError, match='percep_mask_weight needs'):
        build(model_options(tmp_path, percep_mask_weight=0.5))


def test_discriminator_warm_up_keeps_the_generator(tmp_path):
    model = build(model_options(tmp_path, net_d_init_iters=1))
    start = copy.deepcopy(model.net_g.state_dict())
    d_start = copy.deepcopy(model.net_d.state_dict())
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    assert all(torch.equal(v, model.net_g.state_dict()[k]) for k, v in start.items())
    assert not all(torch.equal(v, model.net_d.state_dict()[k]) for k, v in d_start.items())
    model.optimize_parameters(2)
    assert not all(torch.equal(v, model.net_g.state_dict()[k]) for k, v in start.items())


def test_pretrained_generator_loads_params_ema_into_both_generators(tmp_path, tiny_rrdb_checkpoint):
    opt = model_options(tmp_path)
    opt['path'].update(pretrain_network_g=str(tiny_rrdb_checkpoint), param_key_g='params_ema')
    model = build(opt)
    expected = make_tiny_rrdbnet(0).state_dict()  # the checkpoint's params_ema
    for net in (model.net_g, model.net_g_ema):
        assert all(torch.equal(v, net.state_dict()[k]) for k, v in expected.items())


def test_pretrained_generator_without_params_ema_loads_params(tmp_path):
    path = tmp_path / 'ldl.pth'  # LDL's releases hold only 'params'
    torch.save({'params': make_tiny_rrdbnet(1).state_dict()}, path)
    opt = model_options(tmp_path)
    opt['path'].update(pretrain_network_g=str(path), param_key_g='params_ema')
    model = build(opt)
    expected = make_tiny_rrdbnet(1).state_dict()
    for net in (model.net_g, model.net_g_ema):
        assert all(torch.equal(v, net.state_dict()[k]) for k, v in expected.items())


def test_checkpoints_drop_into_real_esrgan_inference(tmp_path):
    model = build(model_options(tmp_path))
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    model.save(epoch=0, current_iter=1)
    files = sorted(p.name for p in (tmp_path / 'models').iterdir())
    assert files == ['net_d_1.pth', 'net_g_1.pth']  # no temporary files left
    checkpoint = torch.load(tmp_path / 'models' / 'net_g_1.pth', weights_only=True)
    assert set(checkpoint) == {'params', 'params_ema'}
    net = RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    net.load_state_dict(checkpoint['params_ema'], strict=True)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in model.net_g_ema.state_dict().items())
    net.load_state_dict(checkpoint['params'], strict=True)
    disc = UNetDiscriminatorSN(3, num_feat=8)
    disc.load_state_dict(torch.load(tmp_path / 'models' / 'net_d_1.pth', weights_only=True)['params'], strict=True)


def test_perceptual_loss_without_vgg19_fails_at_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    layers = {'conv1_2': 0.1, 'conv2_2': 0.1, 'conv3_4': 1, 'conv4_4': 1, 'conv5_4': 1}
    for loss_type in ('PerceptualLoss', 'RegionPerceptualLoss'):  # basicsr's would otherwise download VGG19
        opt = model_options(tmp_path, perceptual_opt={'type': loss_type, 'layer_weights': layers})
        with pytest.raises(FileNotFoundError, match='vgg19-dcbb9e9d.pth'):
            build(opt)


def train_steps(model, steps=4):
    for current_iter in range(1, steps + 1):
        model.feed_data(fixed_batch(seed=current_iter))
        model.optimize_parameters(current_iter)
    return model


@pytest.mark.parametrize('amp, dtype', [('bf16', torch.bfloat16), ('fp16', torch.float16)])
def test_amp_runs_the_networks_in_low_precision_and_trains_like_fp32(tmp_path, amp, dtype):
    """train:amp autocasts on the CPU as on CUDA: same code path, checked here against a full-precision run."""
    held_out = fixed_batch(seed=100)
    reference = train_steps(build(model_options(tmp_path)))
    model = train_steps(build(model_options(tmp_path, amp=amp)))
    assert model.output.dtype == dtype  # the generator ran under autocast...
    assert all(p.dtype == torch.float32 for p in model.net_g.parameters())  # ...on full-precision weights
    assert model.grad_scaler.is_enabled() == (amp == 'fp16')  # fp16 gradients are scaled, bf16 ones need not be
    assert all(torch.isfinite(torch.tensor(value)) for value in model.get_current_log().values())
    assert not torch.equal(model.net_g.conv_last.weight, reference.net_g.conv_last.weight)
    assert masked_l1_of_generator(model, held_out) == pytest.approx(masked_l1_of_generator(reference, held_out),
                                                                    rel=0.02)
    with pytest.raises(ValueError, match='bf16, fp16 or false'):
        build(model_options(tmp_path, amp='int8'))


def test_optimizers_are_built_by_torch_optim_name(tmp_path):
    model = build(model_options(tmp_path, optim_g={'type': 'SGD', 'lr': 0.1, 'momentum': 0.9},
                                optim_d={'type': 'AdamW', 'lr': 1e-4, 'weight_decay': 0.01}))
    assert type(model.optimizer_g) is torch.optim.SGD and model.optimizer_g.defaults['momentum'] == 0.9
    assert type(model.optimizer_d) is torch.optim.AdamW and model.optimizer_d.defaults['weight_decay'] == 0.01
    with pytest.raises(ValueError, match="optimizer type 'Adamm' is not an optimizer of torch.optim"):
        build(model_options(tmp_path, optim_g={'type': 'Adamm', 'lr': 1e-4}))


def test_ldl_model_adds_the_artifact_loss_and_the_plain_model_refuses_it(tmp_path):
    ldl_opt = {'type': 'LDLArtifactLoss', 'loss_weight': 1.0}
    with pytest.raises(ValueError, match='use model_type: DeSRALDLModel'):
        build(model_options(tmp_path, ldl_opt=ldl_opt))
    opt = model_options(tmp_path)
    opt['model_type'] = 'DeSRALDLModel'
    with pytest.raises(ValueError, match='needs train:ldl_opt'):
        build(opt)
    opt['train']['ldl_opt'] = ldl_opt
    model = build(opt)
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    assert model.get_current_log()['l_g_ldl'] > 0  # the LDL term is computed and added on a random batch
    assert 'l_g_pix' in model.get_current_log()


def test_swinir_generator_trains_one_step(tmp_path):
    opt = model_options(tmp_path)
    opt['network_g'] = dict(TINY_SWINIR_OPT)
    model = build(opt)
    start = copy.deepcopy(model.net_g.state_dict())
    model.feed_data(fixed_batch(lq_size=16))
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert all(torch.isfinite(torch.tensor(value)) for value in log.values())
    assert not all(torch.equal(v, model.net_g.state_dict()[k]) for k, v in start.items())


def test_ema_follows_the_generator(tmp_path):
    model = build(model_options(tmp_path, ema_decay=0.9))
    ema_before = copy.deepcopy(model.net_g_ema.state_dict())
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    net_g = model.net_g.state_dict()
    for name, _ in model.net_g_ema.named_parameters():
        torch.testing.assert_close(model.net_g_ema.state_dict()[name], 0.9 * ema_before[name] + 0.1 * net_g[name],
                                   rtol=0, atol=1e-7)


def write_validation_images(root):
    """Two 16x16 LR images and, in another folder, MSE-SR stand-ins (bicubic x4, smooth) under the same names."""
    rng = np.random.default_rng(1)
    (root / 'lq').mkdir()
    (root / 'mse').mkdir()
    for name in ('a', 'b'):
        lq = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        cv2.imwrite(str(root / 'lq' / f'{name}.png'), lq)
        cv2.imwrite(str(root / 'mse' / f'{name}.png'), cv2.resize(lq, (64, 64), interpolation=cv2.INTER_CUBIC))


def validation_options(tmp_path, **dataset_overrides):
    opt = model_options(tmp_path)
    opt['val'] = {'val_freq': 1, 'save_img': True,
                  'detector': {'window_size': 5, 'min_area': 1, 'segmenter': {'type': 'none'}}}
    dataset = {'name': 'heldout', 'type': 'SingleImageDataset', 'dataroot_lq': str(tmp_path / 'lq'),
               'dataroot_mse': str(tmp_path / 'mse'), 'io_backend': {'type': 'disk'}, 'phase': 'val', 'scale': 4}
    dataset.update(dataset_overrides)
    opt['datasets'] = {'val': dataset}
    opt['path']['visualization'] = str(tmp_path / 'visualization')
    return opt


def val_loader(opt):
    dataset_opt = copy.deepcopy(opt['datasets']['val'])
    return build_dataloader(build_dataset(dataset_opt), dataset_opt, num_gpu=0, dist=False)


def test_validation_reports_the_detected_artifact_area(tmp_path):
    write_validation_images(tmp_path)
    opt = validation_options(tmp_path)
    model = build(opt)
    model.validation(val_loader(opt), 5, None, save_img=True)
    assert model.net_g.training  # back to training mode
    detector = ArtifactDetector(opt['val']['detector'])
    expected = 0
    for name in ('a', 'b'):
        lq = decode_image(read_image(str(tmp_path / 'lq' / f'{name}.png'))).rgb
        sr = to_rgb255(TiledUpsampler(model.net_g_ema, 4).upscale_rgb(lq))
        mask = detector.detect(load_rgb255(str(tmp_path / 'mse' / f'{name}.png')), sr).mask
        folder = tmp_path / 'visualization' / name
        np.testing.assert_array_equal(cv2.imread(str(folder / f'{name}_5_artifacts.png'), 0) > 0, mask)
        np.testing.assert_array_equal(load_rgb255(str(folder / f'{name}_5.png')), sr)
        expected += int(mask.sum())
    assert 0 < expected < 2 * 64 * 64
    figures = model.artifact_validator.validate(model.net_g_ema, val_loader(opt), 6, None, save_img=False)
    assert (figures['artifact_pixels'], figures['artifact_fraction']) == (expected, pytest.approx(expected / 8192))
    assert figures['images'] == ['a', 'b']
    # the generator has not trained: against the original GAN nothing is removed or added, the texture is unchanged
    assert (figures['removal_rate'], figures['addition_rate'], figures['texture_reduction']) == (0, 0, 0)
    assert [image['image'] for image in figures['per_image']] == ['a', 'b']
    assert all(image['removal_rate'] == image['texture_reduction'] == 0 for image in figures['per_image'])


def test_validation_computes_mse_sr_once_or_refuses_without_a_source(tmp_path, tiny_rrdb_checkpoint):
    write_validation_images(tmp_path)
    opt = validation_options(tmp_path, dataroot_mse=None)
    with pytest.raises(ValueError, match='dataroot_mse, or network_mse'):
        build(opt)
    opt['network_mse'] = dict(TINY_RRDB_OPT)
    with pytest.raises(KeyError, match='path:pretrain_network_mse'):
        build(opt)
    opt['path'].update(pretrain_network_mse=str(tmp_path / 'absent.pth'))
    with pytest.raises(FileNotFoundError, match=r'absent\.pth: no such file \(path:pretrain_network_mse\)'):
        build(opt)
    opt['path'].update(pretrain_network_mse=str(tiny_rrdb_checkpoint))
    model = build(opt)
    calls = []
    model.artifact_validator.mse_upsampler.net.register_forward_hook(lambda *args: calls.append(1))
    for current_iter in (1, 2):
        model.artifact_validator.validate(model.net_g_ema, val_loader(opt), current_iter, None, save_img=False)
    assert len(calls) == 2  # one per image, cached for the second validation


PUBLISHED_RECIPES = ('finetune_realesrgan_x4plus.yml', 'finetune_ldl_x4.yml', 'finetune_swinir_x4.yml')


def load_option_file(option_file):
    with open(os.path.join(REPO_ROOT, 'options', option_file), encoding='utf-8') as f:
        return yaml.load(f, Loader=ordered_yaml()[0])


def flat_options(opt, prefix=''):
    """``{'train:optim_g:lr': 1e-4, ...}``: the leaves of a nested option dict, keyed as ``--force_yml`` does."""
    flat = {}
    for key, value in opt.items():
        if isinstance(value, dict):
            flat.update(flat_options(value, f'{prefix}{key}:'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


@pytest.mark.parametrize('published', PUBLISHED_RECIPES)
def test_each_consistent_recipe_is_its_published_recipe_with_the_four_changes_only(published):
    """``*_consistent.yml`` = the published recipe + the project's four changes (and its own run name), so the two
    cannot drift apart."""
    base = flat_options(load_option_file(published))
    consistent = flat_options(load_option_file(published.replace('.yml', '_consistent.yml')))
    changed = {key for key in base.keys() | consistent.keys() if base.get(key) != consistent.get(key)}
    usm_changed = {key for key in ('l1_gt_usm', 'percep_gt_usm', 'gan_gt_usm') if base[key]}
    assert changed == {'name', *usm_changed, 'datasets:train:artifact_crop_prob', 'train:target_outside',
                       'train:masked_pixel_opt:type', 'train:masked_pixel_opt:loss_weight'}
    assert consistent['name'] == base['name'] + '_consistent'
    assert not any(consistent[key] for key in ('l1_gt_usm', 'percep_gt_usm', 'gan_gt_usm'))
    assert consistent['datasets:train:artifact_crop_prob'] == 0.5
    assert consistent['train:target_outside'] == 'frozen_generator'
    # the mask-restricted L1 weighs as the recipe's own pixel loss does
    assert consistent['train:masked_pixel_opt:loss_weight'] == base['train:pixel_opt:loss_weight']


@pytest.mark.parametrize('option_file', [*PUBLISHED_RECIPES, 'demo/finetune.yml',
                                         *(name.replace('.yml', '_consistent.yml') for name in PUBLISHED_RECIPES)])
def test_option_files_build_a_model_that_trains(tmp_path, option_file):
    """The shipped options with tiny networks, no weight files, no perceptual loss, no validation. The published
    recipes have the paper's target and no mask-restricted loss; the project's recipes have both of its changes."""
    opt = load_option_file(option_file)
    swinir = opt['network_g']['type'] == 'SwinIR'
    opt['network_g'] = dict(TINY_SWINIR_OPT if swinir else TINY_RRDB_OPT)
    opt['network_d']['num_feat'] = 8
    opt['path'] = {'models': str(tmp_path / 'models')}
    for key in ('val', 'network_mse'):
        opt.pop(key, None)
    opt['train'].pop('perceptual_opt', None)
    opt['train']['net_d_init_iters'] = 0
    opt.update(num_gpu=0, is_train=True, dist=False, rank=0, world_size=1)
    model = build(opt)
    model.feed_data(fixed_batch(lq_size=16 if swinir else 8))
    model.optimize_parameters(1)
    published = option_file in PUBLISHED_RECIPES
    assert ('l_g_masked_pix' in model.get_current_log()) != published
    assert (model.target_outside == 'pseudo_gt') == published
    if published:
        assert opt['datasets']['train']['artifact_crop_prob'] == 0 and opt['l1_gt_usm'] and opt['percep_gt_usm']


def test_usm_sharpening_targets_and_channels_last_layout(tmp_path):
    batch = fixed_batch()
    opt = model_options(tmp_path)
    opt.update(l1_gt_usm=True, percep_gt_usm=False, gan_gt_usm=False)
    model = build(opt)
    model.feed_data(batch)
    assert model.lq.is_contiguous(memory_format=torch.channels_last)
    l1_gt, percep_gt, gan_gt = model.loss_targets()
    torch.testing.assert_close(l1_gt, USMSharp()(batch['gt']))
    assert percep_gt is model.gt and gan_gt is model.gt
    # the channels-last layout (default) trains like the default layout, up to float rounding
    logs = []
    for channels_last in (True, False):
        model = build(model_options(tmp_path, channels_last=channels_last))
        model.feed_data(batch)
        model.optimize_parameters(1)
        logs.append(model.get_current_log())
    assert logs[0] == pytest.approx(logs[1], rel=1e-4)


def outside_and_inside_error(model, batch):
    """Sum of |net_g(lq) - target| outside and inside the mask, for the model's training target."""
    model.feed_data(batch)
    with torch.no_grad():
        error = (model.net_g(model.lq) - model.training_target()).abs()
    mask = batch['mask']
    return (error * (1 - mask)).sum().item(), (error * mask).sum().item()


def test_frozen_generator_target_makes_the_outside_term_zero_at_iteration_0(tmp_path):
    """target_outside: frozen_generator composes m * gt + (1 - m) * g0(lq): outside the mask the generator's first
    output is its own target exactly; the paper's pseudo-GT target (here random) is not."""
    batch = fixed_batch()
    consistent = build(model_options(tmp_path, target_outside='frozen_generator'))
    outside, inside = outside_and_inside_error(consistent, batch)
    assert outside == 0 and inside > 0
    target = consistent.training_target()
    mask = batch['mask'].bool().expand_as(target)
    assert torch.equal(target[mask], batch['gt'][mask])  # inside: the pseudo-GT (the MSE-SR part)
    paper = build(model_options(tmp_path))
    assert paper.target_outside == 'pseudo_gt'  # the default is the paper's
    assert outside_and_inside_error(paper, batch)[0] > 0
    # the pixel loss of a step is then the masked part alone (L1 mean over all pixels)
    consistent.optimize_parameters(1)
    assert consistent.get_current_log()['l_g_pix'] == pytest.approx(inside / batch['gt'].numel(), rel=1e-5)
    with pytest.raises(ValueError, match="target_outside must be one of pseudo_gt, frozen_generator, got 'gan'"):
        build(model_options(tmp_path, target_outside='gan'))


def test_frozen_generator_never_changes_takes_no_gradients_and_feeds_every_target(tmp_path):
    opt = model_options(tmp_path, target_outside='frozen_generator')
    opt.update(l1_gt_usm=False, percep_gt_usm=True, gan_gt_usm=True)
    model = build(opt)
    frozen = model.net_g_frozen
    start = copy.deepcopy(frozen.state_dict())
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
    batch = fixed_batch()
    model.feed_data(batch)
    l1_gt, percep_gt, gan_gt = model.loss_targets()
    # the perceptual target and the discriminator's real input: the same composed target, sharpened
    torch.testing.assert_close(percep_gt, USMSharp()(l1_gt.contiguous()))
    torch.testing.assert_close(gan_gt, percep_gt)
    for current_iter in (1, 2, 3):
        model.feed_data(fixed_batch(seed=current_iter))
        model.optimize_parameters(current_iter)
    assert all(torch.equal(value, frozen.state_dict()[name]) for name, value in start.items())
    assert all(p.grad is None for p in frozen.parameters())
    assert not torch.equal(model.net_g.conv_last.weight, start['conv_last.weight'])  # the generator did train


def test_fixed_params_stay_and_the_others_train(tmp_path):
    model = build(model_options(tmp_path, fixed_params=['conv_first', r'body\.0\.']))
    start = copy.deepcopy(model.net_g.state_dict())
    model.feed_data(fixed_batch())
    model.optimize_parameters(1)
    for name, value in model.net_g.state_dict().items():
        fixed = name.startswith(('conv_first', 'body.0.'))
        assert torch.equal(value, start[name]) == fixed, name
    with pytest.raises(ValueError, match="fixed_params: 'trunk' matches no parameter of network_g"):
        build(model_options(tmp_path, fixed_params=['trunk']))


def test_frozen_generator_run_refuses_a_pseudo_gt_state(tmp_path):
    state = build(model_options(tmp_path)).training_state()
    with pytest.raises(ValueError, match='resume with the same train:target_outside'):
        build(model_options(tmp_path, target_outside='frozen_generator')).resume_training(state)
