"""Option parsing: basicsr's conventions for -opt, --force_yml, num_gpu and result folders."""
import pytest
import torch

from desra.config.options import apply_overrides, parse_command_options


def test_overrides_type_values_and_create_keys():
    opt = {'a': {'b': 1}, 'name': 'x'}
    apply_overrides(opt, ['a:b=0.5', 'a.c=true', 'new:deep:key=~', 'name=run2', 'lst=[1, 2]'])
    assert opt == {'a': {'b': 0.5, 'c': True}, 'name': 'run2', 'new': {'deep': {'key': None}}, 'lst': [1, 2]}
    with pytest.raises(ValueError, match='key:subkey=value'):
        apply_overrides(opt, ['noequals'])
    with pytest.raises(ValueError, match='"name" is not a mapping'):
        apply_overrides(opt, ['name:sub=1'])


def test_parse_command_options_paths_and_gpu(tmp_path):
    (tmp_path / 'lr').mkdir()
    (tmp_path / 'g.pth').write_bytes(b'')
    opt_file = tmp_path / 'o.yml'
    opt_file.write_text(f'name: demo\nmanual_seed: 3\ndatasets: {{test: {{dataroot_lq: {tmp_path}/lr}}}}\n'
                        f'network_g: {{type: RRDBNet, num_in_ch: 3, num_out_ch: 3}}\n'
                        f'path: {{pretrain_network_g: {tmp_path}/g.pth}}\n')
    args = ['-opt', str(opt_file), '--force_yml', f'path:results_root={tmp_path}']
    opt, _ = parse_command_options('t', 'infer', args=args)
    assert opt['num_gpu'] == torch.cuda.device_count()
    assert opt['dist'] is False and opt['rank'] == 0 and opt['world_size'] == 1
    assert opt['path']['run_root'] == str(tmp_path / 'demo') and not (tmp_path / 'demo').exists()  # the run makes it
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='CUDA is not available'):
            parse_command_options('t', 'infer', args=[*args, 'num_gpu=1'])
    (tmp_path / 'noname.yml').write_text(opt_file.read_text().replace('name: demo', 'num_gpu: 0'))
    with pytest.raises(ValueError, match='name: required option is missing'):
        parse_command_options('t', 'infer', args=['-opt', str(tmp_path / 'noname.yml')])
    with pytest.raises(FileNotFoundError, match='absent.yml: no such option file'):
        parse_command_options('t', 'infer', args=['-opt', str(tmp_path / 'absent.yml')])


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the fallback of a machine without CUDA')
def test_basicsr_init_dist_falls_back_to_gloo_without_cuda():
    import basicsr.utils.dist_util
    import basicsr.utils.options
    from desra import basicsr_compat
    assert basicsr.utils.options.init_dist is basicsr.utils.dist_util.init_dist is basicsr_compat.init_dist
    with pytest.raises(ValueError, match='--launcher slurm needs CUDA'):
        basicsr_compat.init_dist('slurm')


def test_basicsr_registry_finds_its_suffixed_classes_by_the_plain_name_quietly(capsys):
    """Real-ESRGAN's option files say ``type: UNetDiscriminatorSN``; basicsr registers it as
    ``UNetDiscriminatorSN_basicsr`` and used to print a line for every such lookup."""
    from basicsr.archs.discriminator_arch import UNetDiscriminatorSN
    from basicsr.utils.registry import ARCH_REGISTRY, MODEL_REGISTRY
    assert ARCH_REGISTRY.get('UNetDiscriminatorSN') is UNetDiscriminatorSN
    assert MODEL_REGISTRY.get('RealESRNetModel').__name__ == 'RealESRNetModel'
    assert capsys.readouterr().out == ''
    with pytest.raises(KeyError, match="No object named 'NoSuchArch' found in 'arch' registry"):
        ARCH_REGISTRY.get('NoSuchArch')
