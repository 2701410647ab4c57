"""GroupCosineAnnealingLR: cosine annealing to a floor per param group."""
import math

import pytest
import torch
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS

from dm_plugin.engine import GroupCosineAnnealingLR


def optimizer():
    """Two groups: the second (a "Mix Block") has its own lr and floor."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    return torch.optim.SGD([
        dict(params=[params[0]]),
        dict(params=[params[1]], lr=0.01, eta_min=5e-4, momentum=0.),
    ], lr=1e-3, momentum=0.9)


def cosine(start, end, t, total):
    return end + (start - end) * (1 + math.cos(math.pi * t / total)) / 2


def test_each_group_anneals_to_its_own_floor():
    optim = optimizer()
    scheduler = GroupCosineAnnealingLR(optim, T_max=8, eta_min=1e-4)
    for t in range(9):
        lrs = [group['lr'] for group in optim.param_groups]
        assert lrs == pytest.approx(
            [cosine(1e-3, 1e-4, t, 8), cosine(0.01, 5e-4, t, 8)],
            rel=1e-12), t
        optim.step()
        scheduler.step()
    assert [g['momentum'] for g in optim.param_groups] == [0.9, 0.]


def test_resumes_from_its_state_dict():
    optim = optimizer()
    scheduler = GroupCosineAnnealingLR(optim, T_max=8)
    for _ in range(3):
        optim.step()
        scheduler.step()
    state = scheduler.state_dict()
    resumed_optim = optimizer()
    resumed_optim.load_state_dict(optim.state_dict())
    resumed = GroupCosineAnnealingLR(resumed_optim, T_max=8, last_step=3)
    resumed.load_state_dict(state)
    for _ in range(2):
        for opt, sch in ((optim, scheduler), (resumed_optim, resumed)):
            opt.step()
            sch.step()
    assert [g['lr'] for g in resumed_optim.param_groups] == pytest.approx(
        [cosine(1e-3, 0., 5, 8), cosine(0.01, 5e-4, 5, 8)], rel=1e-12)


def test_built_from_a_config_with_paramwise_custom_keys():
    """As the AutoMix configs use it: an epoch-based config converted to
    iterations, the Mix Block's floor and momentum set by custom_keys."""
    model = torch.nn.ModuleDict(
        dict(backbone=torch.nn.Linear(2, 2), mix_block=torch.nn.Linear(2, 1)))
    wrapper = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
            paramwise_cfg=dict(custom_keys={
                'mix_block': dict(lr_mult=0.5, eta_min=1e-3, momentum=0.)
            })))
    assert isinstance(wrapper, OptimWrapper)
    scheduler = PARAM_SCHEDULERS.build(
        dict(type='GroupCosineAnnealingLR', by_epoch=True, begin=0, end=2,
             eta_min=0.05, convert_to_iter_based=True),
        default_args=dict(optimizer=wrapper, epoch_length=5))
    assert (scheduler.by_epoch, scheduler.T_max) == (False, 10)
    for _ in range(5):
        wrapper.step()
        scheduler.step()
    groups = {id(p): g for g in wrapper.param_groups for p in g['params']}
    for param in model['backbone'].parameters():
        assert groups[id(param)]['lr'] == pytest.approx(0.075)
        assert groups[id(param)]['momentum'] == 0.9
    for param in model['mix_block'].parameters():
        assert groups[id(param)]['lr'] == pytest.approx(
            cosine(0.05, 1e-3, 5, 10))
        assert groups[id(param)]['momentum'] == 0.


def test_eta_min_ratio_is_refused():
    with pytest.raises(TypeError, match='eta_min_ratio'):
        GroupCosineAnnealingLR(optimizer(), T_max=4, eta_min_ratio=0.1)
