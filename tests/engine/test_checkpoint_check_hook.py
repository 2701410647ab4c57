"""A checkpoint that does not fit the model fails test and resume naming the
key and both shapes; a bare state dict cannot be resumed."""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from engine_utils import load_tool


def five_class_checkpoint(cfg: dict, path) -> str:
    """A training checkpoint of ``cfg``'s model with a 5-class head."""
    model_cfg = dict(cfg['model'])
    model_cfg['head'] = dict(model_cfg['head'], num_classes=5)
    model = MODELS.build(model_cfg)
    torch.save(dict(meta=dict(epoch=0, iter=1),
                    state_dict=model.state_dict()), path)
    return str(path)


SHAPES = (r'head.fc.weight has shape \(5, 64\) in the checkpoint and '
          r'\(3, 64\) in the model; head.fc.bias has shape \(5,\) in the '
          r'checkpoint and \(3,\) in the model')


# How each tool loads a checkpoint for evaluation.
TOOL_LOADS = {
    'test': lambda tool, config, checkpoint: tool.main([config, checkpoint]),
    'visualize_cam':
    lambda tool, config, checkpoint: tool.load_model(config, checkpoint),
}


@pytest.mark.parametrize('name', list(TOOL_LOADS))
def test_tools_refuse_a_checkpoint_of_another_shape(runner_cfg, tmp_path,
                                                    name):
    cfg = runner_cfg()
    config = str(tmp_path / 'cfg.py')
    Config(cfg).dump(config)
    checkpoint = five_class_checkpoint(cfg, tmp_path / 'five.pth')
    with pytest.raises(ValueError, match=rf'five.pth.*{SHAPES}'):
        TOOL_LOADS[name](load_tool(name), config, checkpoint)


def test_resume_refuses_a_checkpoint_of_another_shape(runner_cfg, tmp_path):
    cfg = runner_cfg(max_iters=2)
    cfg.update(resume=True,
               load_from=five_class_checkpoint(cfg, tmp_path / 'five.pth'))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=rf'five.pth.*{SHAPES}'):
        runner.train()
    assert runner.iter == 0


def test_load_from_accepts_another_head(runner_cfg, tmp_path):
    """Fine-tuning starts from another model's weights: a new head is
    normal there, mmengine warns and training goes on."""
    cfg = runner_cfg(max_iters=1)
    cfg['load_from'] = five_class_checkpoint(cfg, tmp_path / 'five.pth')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    assert runner.model.head.fc.weight.shape == (3, 64)


def test_bare_state_dict_cannot_be_resumed(runner_cfg, tmp_path):
    """mmengine fails with ``KeyError: 'meta'``."""
    cfg = runner_cfg(max_iters=2)
    path = str(tmp_path / 'weights.pth')
    torch.save(MODELS.build(cfg['model']).state_dict(), path)
    cfg.update(resume=True, load_from=path)
    with pytest.raises(ValueError,
                       match=r"cannot resume from .*weights.pth: it has no "
                       r"'meta'.*load_from="):
        Runner.from_cfg(cfg).train()


def test_visualize_cam_loads_a_fitting_checkpoint(runner_cfg, tmp_path):
    cfg = runner_cfg()
    config = str(tmp_path / 'cfg.py')
    Config(cfg).dump(config)
    path = str(tmp_path / 'same.pth')
    weights = MODELS.build(cfg['model']).state_dict()
    torch.save(dict(state_dict=weights), path)
    _, model = load_tool('visualize_cam').load_model(config, path)
    torch.testing.assert_close(model.state_dict(), weights, rtol=0, atol=0)
