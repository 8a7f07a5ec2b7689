"""Issue 10 items 1-9: option files and overrides that cannot run code, escape their folders, overwrite inputs, drop
a setting or leave half-made runs behind; one option parser for the five commands."""
import os
import pickle
import re

import pytest
import torch
import yaml

from desra import build_dataset, detect, infer, train
from desra import test as test_command
from desra.config.options import apply_overrides, load_yaml, parse_command_options
from desra.config.preflight import MissingInputsError
from desra.config.schema import OptionError, check_options
from desra.io.paths import is_within, overlap
from desra.losses.perceptual_loss import RegionPerceptualLoss, load_vgg19
from tests.conftest import REPO_ROOT, TINY_RRDB_OPT, run_command

#: Each command's entry point and shipped option file (its run name).
COMMANDS = {
    'detect': (detect.main, 'options/detect.yml', 'detect_RealESRGAN_x4plus'),
    'build_dataset': (build_dataset.main, 'options/build_dataset.yml', 'build_RealESRGAN_x4plus'),
    'train': (train.main, 'options/finetune_realesrgan_x4plus.yml',
              'finetune_RealESRGAN_x4plus'),
    'test': (test_command.main, 'options/test_finetune.yml', 'test_finetune_RealESRGAN_x4plus'),
    'infer': (infer.main, 'options/infer.yml', 'infer_RealESRGAN_x4plus'),
}
#: The ``datasets:`` entry of each command.
PHASES = {'detect': 'detect', 'build_dataset': 'build', 'train': 'train', 'test': 'test', 'infer': 'test'}


def run(command, root, *extra, option_file=None):
    """Call ``command``'s entry point in this process with results under ``root``."""
    main, shipped, _ = COMMANDS[command]
    return main(['-opt', str(option_file or os.path.join(REPO_ROOT, shipped)), '--root', str(root), *extra])


def nothing_written(root):
    """No results/, experiments/ or tb_logger/ folder was made under ``root``."""
    return not any((root / folder).exists() for folder in ('results', 'experiments', 'tb_logger'))


@pytest.mark.parametrize('command', COMMANDS)
def test_option_file_with_a_python_tag_runs_no_code(command, tmp_path):
    marker = tmp_path / 'pwned'
    option_file = tmp_path / 'evil.yml'
    shipped = open(os.path.join(REPO_ROOT, COMMANDS[command][1]), encoding='utf-8').read()
    option_file.write_text(shipped + f'\nevil: !!python/object/apply:os.system ["touch {marker}"]\n')
    line = shipped.count('\n') + 2
    with pytest.raises(OptionError, match=rf'{re.escape(str(option_file))}:{line}:7: .*python/object/apply:os.system'):
        run(command, tmp_path, option_file=option_file)
    assert not marker.exists() and nothing_written(tmp_path)


@pytest.mark.parametrize('command', COMMANDS)
def test_force_yml_values_are_never_evaluated(command, tmp_path):
    marker = tmp_path / 'pwned'
    payload = f"name=[__import__('os').system('touch {marker}')]"  # basicsr's _postprocess_yml_value evals this
    with pytest.raises(OptionError, match=r'name: must be a plain folder name .*, got list'):
        run(command, tmp_path, '--force_yml', payload)
    assert not marker.exists() and nothing_written(tmp_path)


def test_force_yml_values_are_typed_as_yaml():
    opt = {'a': {'b': 1}}
    apply_overrides(opt, ['a.b=-1', 'a:eps=1e-8', 'lst=[1, 2]', 'none=~', 'flag=true', 'text=abc', 'big=1E+3'])
    assert opt == {'a': {'b': -1, 'eps': 1e-8}, 'lst': [1, 2], 'none': None, 'flag': True, 'text': 'abc',
                   'big': 1000.0}
    assert type(opt['a']['eps']) is float
    with pytest.raises(OptionError, match=r'--force_yml entry "x=\[1, 2": malformed value'):
        apply_overrides(opt, ['x=[1, 2'])
    with pytest.raises(OptionError, match='empty key'):
        apply_overrides(opt, ['a..b=1'])


def test_yaml_reader_keeps_order_standard_tags_and_refuses_duplicates(tmp_path):
    path = tmp_path / 'o.yml'
    path.write_text('z: !!float 1e-4\na: 1e-8\nm: 2.5e+3\n')
    opt = load_yaml(str(path))
    assert list(opt) == ['z', 'a', 'm'] and opt == {'z': 1e-4, 'a': 1e-8, 'm': 2500.0}
    path.write_text('name: x\ntrain:\n  total_iter: 1\n  total_iter: 2\n')
    with pytest.raises(OptionError, match=rf'{re.escape(str(path))}:4:3: key "total_iter" appears twice'):
        load_yaml(str(path))


def test_malformed_yaml_is_one_line_with_file_line_and_column(tmp_path):
    option_file = tmp_path / 'broken.yml'
    option_file.write_text('name: demo\ndatasets: [unclosed\n')
    result = run_command(['desra/detect.py', '-opt', str(option_file), '--root', str(tmp_path)])
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert re.fullmatch(rf'error: {re.escape(str(option_file))}:3:1: expected \',\' or \']\', but got .*\n',
                        result.stderr)


@pytest.mark.parametrize('name', ['../../escaped', '/tmp/abs', '.', '..', '', 'a/b', 'a\\b', 123])
@pytest.mark.parametrize('command', COMMANDS)
def test_run_name_must_be_a_plain_folder_name(command, name, tmp_path):
    with pytest.raises(OptionError, match='name: must be a plain folder name'):
        run(command, tmp_path / 'root', '--force_yml', f'name={name}' if name != '' else 'name=""')
    assert not (tmp_path / 'escaped').exists() and not (tmp_path / 'root').exists()


def overlapping_input(command, tmp_path):
    """An override whose input folder is, contains or lies inside the command's output folder."""
    name = COMMANDS[command][2]
    run_root = tmp_path / 'results' / name
    return {'detect': f'datasets:detect:dataroot_gan={run_root / "overlays"}',  # the example
            'build_dataset': f'datasets:build:dataroot_mask={run_root / "mask"}',
            'train': f'datasets:train:dataroot_lq={tmp_path}',  # experiments/<name> would lie inside it
            'test': f'datasets:test:dataroot_lq={tmp_path / "results"}',
            'infer': f'datasets:test:dataroot_lq={run_root}'}[command]


@pytest.mark.parametrize('command', COMMANDS)
def test_outputs_never_overlap_inputs(command, tmp_path):
    with pytest.raises(OptionError, match=r'(lies inside|contains|is) the input folder datasets:'):
        run(command, tmp_path, '--force_yml', overlapping_input(command, tmp_path))
    assert nothing_written(tmp_path)


def test_sibling_folders_that_share_a_prefix_do_not_overlap(tmp_path):
    """``data/lr_sr`` is beside ``data/lr``, not inside it: a path comparison without the separator would refuse the
    usual layout of inputs and outputs (and would let ``data/lr`` count as inside ``data/l``)."""
    data = tmp_path / 'data'
    (data / 'lr').mkdir(parents=True)
    (tmp_path / 'g.pth').write_bytes(b'')  # the preflight looks for the file only
    assert not is_within(data / 'lr_sr', data / 'lr') and not overlap(data / 'lr_sr', data / 'lr')
    assert not is_within(data / 'lr', data / 'l')
    assert is_within(data / 'lr' / 'sr', data / 'lr') and is_within(data / 'lr', data / 'lr' / '')
    opt, _ = parse_command_options('t', 'infer', args=[
        '-opt', os.path.join(REPO_ROOT, 'options/infer.yml'), '--root', str(tmp_path),
        '--force_yml', f'datasets:test:dataroot_lq={data / "lr"}', f'path:results_root={data}', 'name=lr_sr',
        f'path:pretrain_network_g={tmp_path / "g.pth"}', 'num_gpu=0'])
    assert opt['path']['run_root'] == str(data / 'lr_sr')  # accepted: outputs beside the inputs


def test_overlap_is_found_through_symbolic_links(tmp_path):
    overlays = tmp_path / 'results' / 'detect_RealESRGAN_x4plus' / 'overlays'
    overlays.mkdir(parents=True)
    (tmp_path / 'innocent').symlink_to(overlays)
    with pytest.raises(OptionError, match=r'contains the input folder datasets:detect:dataroot_gan'):
        run('detect', tmp_path, '--force_yml', f'datasets:detect:dataroot_gan={tmp_path / "innocent"}')


class Payload:
    """A pickle that runs a command when unpickled without ``weights_only``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_malicious_vgg19_file_is_never_unpickled(tmp_path):
    marker, evil = tmp_path / 'pwned', tmp_path / 'vgg19-dcbb9e9d.pth'
    with open(evil, 'wb') as f:
        pickle.dump(Payload(marker), f, protocol=2)
    with pytest.raises(ValueError, match=rf'{re.escape(str(evil))}: not a VGG19 weight file that loads with '
                                         'weights_only=True'):
        RegionPerceptualLoss({'conv1_2': 1.0}, vgg19_path=str(evil))
    assert not marker.exists()


def test_vgg19_weights_reach_basicsr_without_its_torch_load(tmp_path, monkeypatch):
    """basicsr's extractor gets the network loaded with weights_only=True; torch.load is never called without it."""
    def tiny_vgg19(weights=None):  # VGG19's first three layers (conv1_1, relu1_1, conv1_2) at a small width
        net = torch.nn.Module()
        net.features = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                                           torch.nn.Conv2d(4, 4, 3, padding=1))
        return net
    monkeypatch.setattr('torchvision.models.vgg19', tiny_vgg19)
    torch.manual_seed(3)
    weights = tiny_vgg19().state_dict()
    path = tmp_path / 'vgg19.pth'
    torch.save(weights, path)
    loads, plain_load = [], torch.load
    monkeypatch.setattr(torch, 'load', lambda *args, **kwargs: loads.append(kwargs) or plain_load(*args, **kwargs))
    loss = RegionPerceptualLoss({'conv1_2': 1.0}, vgg19_path=str(path))
    assert loads == [{'map_location': 'cpu', 'weights_only': True}]
    assert torch.equal(loss.vgg.vgg_net.conv1_2.weight, weights['features.2.weight'])
    with pytest.raises(ValueError, match=r'vgg19.pth: not torchvision\'s VGG19 weights'):
        torch.save({'other': torch.zeros(1)}, path)
        load_vgg19(str(path))


def parse_train(tmp_path, *extra, option_file='options/finetune_realesrgan_x4plus.yml'):
    return parse_command_options('t', 'train', args=['-opt', os.path.join(REPO_ROOT, option_file), '--root',
                                                     str(tmp_path), *extra], preflight=False)[0]


def test_train_uses_the_common_parser_with_basicsr_paths(tmp_path):
    opt = parse_train(tmp_path, '--force_yml', 'train.total_iter=4', 'logger:wandb:project=desra', 'num_gpu=0')
    assert opt['train']['total_iter'] == 4 and opt['logger']['wandb'] == {'project': 'desra', 'resume_id': None}
    experiments = str(tmp_path / 'experiments' / 'finetune_RealESRGAN_x4plus')
    assert opt['path'] == {**opt['path'], 'experiments_root': experiments, 'log': experiments,
                           'models': f'{experiments}/models', 'training_states': f'{experiments}/training_states',
                           'visualization': f'{experiments}/visualization',
                           'tb_logger': str(tmp_path / 'tb_logger' / 'finetune_RealESRGAN_x4plus')}
    assert opt['datasets']['train']['phase'] == 'train' and opt['datasets']['val']['scale'] == 4
    assert opt['is_train'] and opt['auto_resume'] is False and opt['root_path'] == str(tmp_path)
    assert isinstance(opt['logger']['save_checkpoint_freq'], int)  # !!float 1e3 read as basicsr's int(...)
    debug = parse_train(tmp_path, '--debug', '--auto_resume', '--force_yml', 'num_gpu=0')
    assert debug['name'] == 'debug_finetune_RealESRGAN_x4plus' and debug['auto_resume']
    assert (debug['logger']['print_freq'], debug['logger']['save_checkpoint_freq'], debug['val']['val_freq']) == (
        1, 8, 8)
    assert nothing_written(tmp_path)


def test_root_defaults_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'lr').mkdir()
    (tmp_path / 'g.pth').write_bytes(b'')
    opt, _ = parse_command_options('t', 'infer', args=['-opt', os.path.join(REPO_ROOT, 'options/infer.yml'),
                                                       '--force_yml', 'datasets:test:dataroot_lq=lr',
                                                       'path:pretrain_network_g=g.pth', 'num_gpu=0'])
    assert opt['path']['run_root'] == str(tmp_path / 'results' / 'infer_RealESRGAN_x4plus')
    assert not (tmp_path / 'results').exists()  # the run makes its folder, not the parser


@pytest.mark.parametrize('command, overrides, problems', [
    ('build_dataset', ['datasets:build:meta_info_fle=x', 'overwite=true'],
     ['datasets:build:meta_info_fle: unknown option; did you mean "meta_info_file"?',
      'overwite: unknown option; did you mean "overwrite"?']),
    ('train', ['train:totl_iter=3', 'manual_seed=abc', 'network_g:num_blok=2'],
     ['train:totl_iter: unknown option; did you mean "total_iter"?',
      'manual_seed: must be an integer >= 0, got str \'abc\'',
      'network_g:num_blok: not an argument of RRDBNet; did you mean "num_block"?']),
    ('train', ['train=~'], ['train: must be a mapping, got null']),
    ('train', ['train:optim_g:betas2=1', 'train:perceptual_opt:layer_wieghts=1'],
     ['train:optim_g:betas2: not an argument of Adam; did you mean "betas"?',
      'train:perceptual_opt:layer_wieghts: not an argument of RegionPerceptualLoss; did you mean "layer_weights"?']),
    ('train', ['train:pixel_opt=~', 'train:gan_opt:loss_weight=1', 'train:gan_opt:type=GANLos'],
     ['train:gan_opt:type: no loss named "GANLos"; did you mean "GANLoss"?']),
    ('detect', ['tile:tile_sise=4', 'name=123', 'detector:threshold=1.5'],
     ['tile:tile_sise: unknown option; did you mean "tile_size"?', 'name: must be a plain folder name',
      'detector:threshold: must be a number in (0, 1), got float 1.5']),
    ('detect', ['detector=abc'], ['detector: must be a mapping, got str \'abc\'']),
    ('test', ['network_gan:type=RRDBNt', 'report:max_parts=-1'],
     ['network_gan:type: no network architecture named "RRDBNt"; did you mean "RRDBNet"?',
      'report:max_parts: must be an integer >= 0, got int -1']),
    ('infer', ['alpha_upsampler=cubic', 'tile:half=yes please'],
     ['alpha_upsampler: must be one of model, linear, got str \'cubic\'',
      'tile:half: must be true or false']),
])
def test_unknown_keys_types_and_ranges_are_all_reported_with_their_key(command, overrides, problems, tmp_path):
    with pytest.raises(OptionError) as error:
        run(command, tmp_path, '--force_yml', *overrides)
    message = str(error.value)
    assert f'{len(problems)} option problem(s)' in message
    for problem in problems:
        assert problem in message
    assert nothing_written(tmp_path)


def test_every_shipped_option_file_passes_its_command_schema():
    for folder in ('options', 'options/demo'):
        for file in sorted(os.listdir(os.path.join(REPO_ROOT, folder))):
            if file.endswith('.yml'):
                opt = load_yaml(os.path.join(REPO_ROOT, folder, file))
                command = ('train' if 'model_type' in opt else 'build_dataset' if 'build' in opt.get('datasets', {})
                           else next(c for c, phase in PHASES.items() if phase in opt['datasets'] and
                                     ('network_finetuned' in opt) == (c == 'test') and
                                     ('network_g' in opt) == (c == 'infer')))
                check_options(opt, command, file)
                if command == 'train':  # wandb shown as basicsr has it
                    assert set(opt['logger']['wandb']) == {'project', 'resume_id'}


def write_training_options(tmp_path, tiny_dataset, **changes):
    """A tiny training option file (tests/test_train_resume.py's) with ``changes`` applied (dotted keys)."""
    from tests.test_train_resume import write_options
    option_file = write_options(tmp_path, tiny_dataset, 'preflight', dict(TINY_RRDB_OPT))
    opt = yaml.safe_load(option_file.read_text())
    apply_overrides(opt, [f'{key}={value}' for key, value in changes.items()])
    option_file.write_text(yaml.safe_dump(opt))
    return option_file


def test_training_preflight_names_every_missing_input_and_creates_nothing(tmp_path, tiny_dataset, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    monkeypatch.chdir(tmp_path)  # no experiments/pretrained_models/vgg19-dcbb9e9d.pth here
    option_file = write_training_options(
        tmp_path, tiny_dataset, **{
            'path.pretrain_network_d': tmp_path / 'RealESRGAN_x4plus_netD.pth',
            'datasets.train.dataroot_mask': tmp_path / 'absent_masks',
            'train.perceptual_opt': "{type: RegionPerceptualLoss, layer_weights: {conv5_4: 1}}",
            'val': '{val_freq: 1, detector: {segmenter: {type: segformer, model_path: /absent/segformer}}}',
            'datasets.val': f'{{name: v, type: SingleImageDataset, dataroot_lq: {tiny_dataset / "lq"}, '
                            f'dataroot_mse: {tiny_dataset / "gt"}, io_backend: {{type: disk}}}}',
            'logger.use_tb_logger': 'true', 'logger.wandb.project': 'desra'})
    monkeypatch.setitem(__import__('sys').modules, 'wandb', None)  # wandb not installed
    with pytest.raises(MissingInputsError) as error:
        run('train', tmp_path, option_file=option_file)
    message = str(error.value)
    assert '5 input(s) missing; nothing was done' in message
    assert (f'path:pretrain_network_d: {tmp_path / "RealESRGAN_x4plus_netD.pth"}: no such file (get it: '
            'https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.2.3/RealESRGAN_x4plus_netD.pth)') in message
    assert (f'datasets:train:dataroot_mask: {tmp_path / "absent_masks"}: no such folder (made by '
            'desra/build_dataset.py (its mask/ folder))') in message
    assert 'train:perceptual_opt: The perceptual loss' in message and 'vgg19-dcbb9e9d.pth' in message
    assert 'val:detector:segmenter:model_path: SegFormer weights "/absent/segformer" not found' in message
    assert 'the wandb package is not installed (pip install wandb' in message
    assert nothing_written(tmp_path)


def test_a_name_holding_a_run_is_refused_not_archived(tmp_path, tiny_dataset):
    option_file = write_training_options(tmp_path, tiny_dataset, **{'train.total_iter': 1})
    earlier = tmp_path / 'experiments' / 'preflight' / 'models'
    earlier.mkdir(parents=True)
    (earlier / 'net_g_5.pth').write_bytes(b'earlier run')
    with pytest.raises(OptionError, match='holds an earlier run: continue it with --auto_resume'):
        run('train', tmp_path, option_file=option_file)
    assert sorted(os.listdir(tmp_path / 'experiments')) == ['preflight']  # no *_archived_* folder
    assert (earlier / 'net_g_5.pth').read_bytes() == b'earlier run'


def test_wandb_needs_the_tensorboard_logger(tmp_path, tiny_dataset):
    option_file = write_training_options(tmp_path, tiny_dataset, **{'logger.wandb.project': 'desra'})
    with pytest.raises(MissingInputsError, match='logger:wandb:project needs logger:use_tb_logger: true'):
        run('train', tmp_path, option_file=option_file)
    assert nothing_written(tmp_path)


def test_preflight_says_what_a_path_is_when_it_is_the_wrong_kind(tmp_path):
    (tmp_path / 'lr.png').write_bytes(b'')
    (tmp_path / 'weights').mkdir()
    with pytest.raises(MissingInputsError) as error:
        run('infer', tmp_path, '--force_yml', f'datasets:test:dataroot_lq={tmp_path / "lr.png"}',
            f'path:pretrain_network_g={tmp_path / "weights"}')
    assert f'datasets:test:dataroot_lq: {tmp_path / "lr.png"}: a file, not a folder' in str(error.value)
    assert f'path:pretrain_network_g: {tmp_path / "weights"}: a folder, not a file' in str(error.value)


def test_stage_one_preflight_lists_weights_and_segformer_together(tmp_path):
    with pytest.raises(MissingInputsError) as error:
        run('test', tmp_path, '--force_yml', f'datasets:test:dataroot_lq={tmp_path / "lr"}',
            f'path:pretrain_network_mse={tmp_path / "RealESRNet_x4plus.pth"}',
            f'detector:segmenter:model_path={tmp_path / "seg.pth"}')
    message = str(error.value)
    assert f'datasets:test:dataroot_lq: {tmp_path / "lr"}: no such folder' in message
    assert 'v0.1.1/RealESRNet_x4plus.pth' in message and 'path:pretrain_network_finetuned' in message
    assert 'made by desra/train.py' in message and 'detector:segmenter:model_path' in message
    assert nothing_written(tmp_path)


def test_the_demo_options_say_how_to_get_the_demo_data(tmp_path, monkeypatch):
    """The copied demo options, run in a folder without the demo data (a pip install), name `desra-options demo`."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingInputsError) as error:
        run('detect', tmp_path, option_file=os.path.join(REPO_ROOT, 'options', 'demo', 'detect.yml'))
    assert 'datasets:detect:dataroot_lq: datasets/demo/lr: no such folder (the demo data: `desra-options demo`' \
        in str(error.value)
    assert '`desra-weights` (offline' in str(error.value)
