import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import visualize_cam  # noqa: E402


@pytest.fixture
def trained(runner_cfg, tmp_path):
    cfg = runner_cfg(max_iters=2)
    Runner.from_cfg(cfg).train()
    cfg['custom_imports'] = dict(imports=['dm_plugin'])
    path = str(tmp_path / 'tiny.py')
    Config(cfg).dump(path)
    return path, str(tmp_path / 'work' / 'iter_2.pth')


def test_draws_cams_for_each_model(trained, tmp_path):
    config, ckpt = trained
    out = visualize_cam.main([
        config, ckpt, config, ckpt, '--labels', 'MCE', 'DM', '--pairs', '2',
        '--out', str(tmp_path / 'cam')
    ])
    width, height = Image.open(out).size
    assert width > height > 0  # 2 rows x 7 columns


def test_cams_are_normalised_maps(trained):
    config, ckpt = trained
    _, model = visualize_cam.load_model(config, ckpt)
    inputs = torch.randn(3, 3, 16, 16)
    cams = visualize_cam.class_activation_maps(model, inputs,
                                               torch.tensor([0, 1, 2]))
    assert cams.shape == (3, 16, 16)
    assert cams.min() >= 0 and cams.amax(dim=(1, 2)).le(1).all()


def test_cutmix_view_pastes_the_centre_box():
    images = torch.cat([torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)])
    mixed = visualize_cam.mix(images, 'CutMix', lam=0.75)
    assert mixed.mean().item() == pytest.approx(0.25)
    assert mixed[0, 0, 4, 4] == 1 and mixed[0, 0, 0, 0] == 0


def test_bad_arguments_are_named(trained):
    config, ckpt = trained
    with pytest.raises(SystemExit):
        visualize_cam.parse_args([config, ckpt, '--out', 'x', '--lam', '1'])
    with pytest.raises(SystemExit):
        visualize_cam.parse_args([config, '--out', 'x'])


def test_one_by_one_feature_map_is_refused(trained):
    """8x8 images through ResNet_CIFAR end in a 1x1 map (the quickstart's
    case): every CAM would be one value spread over the image."""
    config, ckpt = trained
    _, model = visualize_cam.load_model(config, ckpt)
    with pytest.raises(ValueError, match=r'ResNet_CIFAR stage 3 output is '
                       r'1x1 for 8x8 inputs \(64 channels\)'):
        visualize_cam.class_activation_maps(model, torch.randn(2, 3, 8, 8),
                                            torch.tensor([0, 1]))


def test_names_the_layer_it_uses(trained, tmp_path, capsys):
    config, ckpt = trained
    visualize_cam.main([config, ckpt, '--labels', 'DM', '--pairs', '2',
                        '--out', str(tmp_path / 'cam')])
    # 16x16 images: ResNet_CIFAR's last stage gives 64 channels of 2x2.
    assert 'CAM of DM: ResNet_CIFAR stage 3 output (64x2x2) x head.fc' in \
        capsys.readouterr().out
