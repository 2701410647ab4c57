"""A head whose num_classes disagrees with the data fails before training."""
import pytest
from mmengine.runner import Runner


def mismatched_cfg(runner_cfg, head_classes, preprocessor_classes):
    cfg = runner_cfg(max_iters=2)  # the data has 3 classes
    cfg['model']['head']['num_classes'] = head_classes
    cfg['model']['data_preprocessor']['num_classes'] = preprocessor_classes
    cfg['custom_hooks'] = [dict(type='NumClassesCheckHook')]
    return cfg


@pytest.mark.parametrize('head, preprocessor, name, number', [
    (4, 3, 'model.head', 4),  # would train silently with a dead class
    (2, 3, 'model.head', 2),  # would fail only when a label 2 is drawn
    (3, 5, 'model.data_preprocessor', 5),
])
def test_mismatch_is_caught_before_the_first_iteration(
        runner_cfg, head, preprocessor, name, number):
    runner = Runner.from_cfg(mismatched_cfg(runner_cfg, head, preprocessor))
    with pytest.raises(
            ValueError,
            match=rf'{name}.num_classes is {number} but the training set '
            r'CustomDataset has 3 classes; set '
            rf'{name}.num_classes=3'):
        runner.train()
    assert runner.iter == 0


def test_matching_num_classes_trains(runner_cfg):
    runner = Runner.from_cfg(mismatched_cfg(runner_cfg, 3, 3))
    runner.train()
    assert runner.iter == 2


def test_check_runs_without_being_configured(runner_cfg):
    """A user's config that neither inherits dm-plugin's runtime nor lists
    the hook: a 100-class head on 3-class data still fails up front."""
    cfg = runner_cfg(max_iters=2)
    assert 'custom_hooks' not in cfg
    cfg['model']['head']['num_classes'] = 100
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='model.head.num_classes is 100'):
        runner.train()
    assert runner.iter == 0


def test_configured_check_is_not_doubled(runner_cfg):
    runner = Runner.from_cfg(mismatched_cfg(runner_cfg, 3, 3))
    names = [type(hook).__name__ for hook in runner.hooks]
    assert names.count('NumClassesCheckHook') == 1
