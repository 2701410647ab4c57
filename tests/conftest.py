"""Shared fixtures: tiny generated image data and tiny Runner configs."""
import copy
import itertools
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import DefaultScope
from mmengine.visualization import Visualizer

import dm_plugin  # noqa: F401  (registers everything)

# mmengine keys a Runner's logger, message hub and visualizer by experiment
# name and the second it started. Two runners of this test process with one
# name, started in the same second, share them: the second one's scalars
# land in the first one's folder.
_RUN_NUMBERS = itertools.count()
_PER_RUNNER_INSTANCES = (MMLogger, MessageHub, Visualizer, DefaultScope)


def unique_experiment_name(label: str) -> str:
    """``label`` made unique within the test process."""
    return f'{label}_{next(_RUN_NUMBERS)}'


@pytest.fixture(autouse=True)
def forget_runner_instances():
    """After each test, drop the loggers, message hubs, visualizers and
    scopes its runners created (closing their log files), so that no later
    runner can pick them up."""
    yield
    for manager in _PER_RUNNER_INSTANCES:
        for instance in manager._instance_dict.values():
            for handler in getattr(instance, 'handlers', []):
                handler.close()
        manager._instance_dict.clear()


def write_image_folder(root: str,
                       num_classes: int = 3,
                       per_class: int = 4,
                       size=(16, 16),
                       mode: str = 'RGB',
                       seed: int = 0) -> str:
    """Write ``root/class_k/img_i.png`` random images (an ImageFolder tree
    that mmpretrain's CustomDataset reads); each class has its own mean
    brightness so that the task is learnable. Returns ``root``."""
    rng = np.random.default_rng(seed)
    channels = len(mode)
    for k in range(num_classes):
        for i in range(per_class):
            base = 40 + 160 * k / max(num_classes - 1, 1)
            pixels = rng.normal(base, 25, size=(size[0], size[1], channels))
            pixels = np.clip(pixels, 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels.squeeze(-1) if channels == 1
                                    else pixels, mode)
            path = osp.join(root, f'class_{k}', f'img_{i}.png')
            os.makedirs(osp.dirname(path), exist_ok=True)
            image.save(path)
    return root


class Payload:
    """Pickles as ``call(*args)`` (with ``state``: then ``BUILD state``):
    what a crafted file has an unrestricted unpickler run."""

    def __init__(self, call, *args, state=None):
        self.call, self.args, self.state = call, args, state

    def __reduce__(self):
        if self.state is None:
            return self.call, self.args
        return self.call, self.args, self.state


def shell_payload(marker) -> Payload:
    """Unpickled without restrictions, creates the file ``marker``."""
    return Payload(os.system, f'touch {marker}')


@pytest.fixture
def image_folder(tmp_path):
    """A 3-class, 4-images-per-class 16x16 RGB ImageFolder tree."""
    return write_image_folder(str(tmp_path / 'data'))


def tiny_runner_cfg(data_root: str,
                    work_dir: str,
                    num_classes: int = 3,
                    max_iters: int = 3,
                    model: dict = None,
                    batch_size: int = 4,
                    checkpoint_interval: int = None) -> dict:
    """A complete Runner config (dict) training a very small ResNet on an
    ImageFolder tree for ``max_iters`` iterations, with validation at the
    end. ``model`` overrides the default MixupClassifier (Mixup + DM)."""
    default_model = dict(
        type='MixupClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor',
            num_classes=num_classes,
            mean=[127.5, 127.5, 127.5],
            std=[127.5, 127.5, 127.5]),
        backbone=dict(
            type='ResNet_CIFAR',
            depth=18,
            stem_channels=8,
            base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='DMClsHead',
            num_classes=num_classes,
            in_channels=64,
            loss=dict(type='DecoupledMixupLoss', eta=0.1)),
        mixer=dict(type='Mixup', alpha=1.0))
    dataset = dict(
        type='CustomDataset',
        data_root=data_root,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')])
    loader = dict(
        batch_size=batch_size,
        num_workers=0,
        dataset=dataset,
        sampler=dict(type='DefaultSampler', shuffle=True))
    return dict(
        default_scope='mmpretrain',
        work_dir=work_dir,
        model=model or default_model,
        train_dataloader=loader,
        val_dataloader=copy.deepcopy(loader),
        val_evaluator=dict(type='Accuracy', topk=(1, )),
        test_dataloader=copy.deepcopy(loader),
        test_evaluator=dict(type='Accuracy', topk=(1, )),
        test_cfg=dict(),
        train_cfg=dict(by_epoch=False, max_iters=max_iters,
                       val_interval=max_iters),
        val_cfg=dict(),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(
                type='CheckpointHook',
                interval=checkpoint_interval or max_iters,
                by_epoch=False)),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level='WARNING',
        experiment_name=unique_experiment_name(osp.basename(work_dir)),
    )


@pytest.fixture
def runner_cfg(image_folder, tmp_path):
    """Factory: ``runner_cfg(**overrides_of_tiny_runner_cfg)``."""

    def make(**kwargs):
        kwargs.setdefault('work_dir', str(tmp_path / 'work'))
        return tiny_runner_cfg(image_folder, **kwargs)

    return make
