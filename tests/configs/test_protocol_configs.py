"""Every evidence-protocol config builds its model and trains one step."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    path for path in glob.glob(osp.join(ROOT, 'configs', 'protocol', '*.py'))
    if not osp.basename(path).startswith('_'))


def test_protocol_configs_exist():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_builds_and_trains_one_step(path):
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                for _ in range(4)],
        data_samples=[DataSample().set_gt_label(i % 10) for i in range(4)])
    log_vars = model.train_step(batch, optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
