"""Splits whose classes differ, or a class without images, fail before the
first iteration, naming the split and the classes."""
import os
import shutil

import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from conftest import write_image_folder


def with_val_root(cfg: dict, root: str) -> dict:
    cfg['val_dataloader']['dataset']['data_root'] = root
    return cfg


def test_val_split_missing_a_class(runner_cfg, tmp_path):
    """Train holds class_0..2, val only class_1..2: mmpretrain labels val's
    class_1 as 0, so every val label would be shifted."""
    val = write_image_folder(str(tmp_path / 'val'), num_classes=3)
    shutil.rmtree(os.path.join(val, 'class_0'))
    runner = Runner.from_cfg(with_val_root(runner_cfg(), val))
    with pytest.raises(ValueError,
                       match=r"the val split \(CustomDataset at .*val\) "
                       r"does not have the classes of the train split: "
                       r"missing 'class_0'"):
        runner.train()
    assert runner.iter == 0


def test_val_split_with_an_extra_class(runner_cfg, tmp_path):
    val = write_image_folder(str(tmp_path / 'val'), num_classes=4)
    runner = Runner.from_cfg(with_val_root(runner_cfg(), val))
    with pytest.raises(ValueError, match=r"val split .*extra 'class_3'"):
        runner.train()


def test_same_classes_in_another_order(runner_cfg):
    cfg = runner_cfg()
    cfg['val_dataloader']['dataset']['classes'] = [
        'class_2', 'class_1', 'class_0']
    with pytest.raises(ValueError,
                       match=r'val split .*same classes in another order: '
                       r"\('class_2', 'class_1', 'class_0'\)"):
        Runner.from_cfg(cfg).train()


def test_empty_class_folder(runner_cfg, image_folder):
    """mmpretrain only logs a warning, and trains a class it never sees."""
    os.makedirs(os.path.join(image_folder, 'class_3'))
    cfg = runner_cfg()
    cfg['model']['head']['num_classes'] = 4
    cfg['model']['data_preprocessor']['num_classes'] = 4
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError,
                       match=r"the train split .* has no image of class "
                       r"'class_3'"):
        runner.train()
    assert runner.iter == 0


def test_test_split_is_checked_against_the_trained_classes(
        runner_cfg, tmp_path):
    """tools/test.py builds only the test split: it is compared with the
    classes saved in the checkpoint's meta by the training run."""
    cfg = runner_cfg()
    checkpoint = str(tmp_path / 'trained.pth')
    torch.save(
        dict(meta=dict(epoch=1, iter=3, dataset_meta=dict(
            classes=('class_0', 'class_1', 'class_2'))),
             state_dict=MODELS.build(cfg['model']).state_dict()), checkpoint)
    test = write_image_folder(str(tmp_path / 'test'), num_classes=3)
    shutil.rmtree(os.path.join(test, 'class_1'))
    cfg['test_dataloader']['dataset']['data_root'] = test
    cfg['load_from'] = checkpoint
    cfg['model']['head']['num_classes'] = 3
    with pytest.raises(ValueError,
                       match=r"the test split .* does not have the classes "
                       r"the checkpoint was trained on: missing 'class_1'"):
        Runner.from_cfg(cfg).test()


def test_matching_splits_train(runner_cfg, tmp_path):
    val = write_image_folder(str(tmp_path / 'val'), num_classes=3,
                             per_class=1, seed=1)
    runner = Runner.from_cfg(with_val_root(runner_cfg(max_iters=1), val))
    runner.train()
    assert runner.iter == 1
