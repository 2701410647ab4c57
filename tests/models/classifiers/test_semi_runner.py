"""A 3-iteration Runner run of each semi-supervised classifier on a tiny
generated ImageFolder: dataset wrapper, collate, data preprocessor,
schedules from the runtime information, validation."""
import math

import pytest
from mmengine.runner import Runner

from conftest import write_image_folder

PROJECTOR = dict(type='MoCoV2Neck', in_channels=64, hid_channels=32,
                 out_channels=16, with_avg_pool=False)
CLASSIFIERS = {
    'FixMatch': (1, dict(threshold=0.5)),
    'DMixMatch': (1, dict(threshold=0.2, mix_threshold=0.1)),
    'SelfTuning': (2, dict(projector=PROJECTOR)),
    'DMixTuning': (2, dict(projector=PROJECTOR)),
}


def semi_runner_cfg(model_type, data_root, work_dir):
    views, extra = CLASSIFIERS[model_type]
    model = dict(
        type=model_type,
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=3,
            mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True),
        backbone=dict(type='WideResNet', depth=10, widen_factor=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=64),
        **extra)
    weak = [dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='PackInputs')]
    strong = [dict(type='FixMatchRandAugment', cutout=8),
              dict(type='PackInputs')] if views == 1 else weak
    folder = dict(type='CustomDataset', data_root=data_root,
                  pipeline=[dict(type='LoadImageFromFile')])
    val_loader = dict(
        batch_size=4, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(folder, pipeline=[dict(type='LoadImageFromFile'),
                                       dict(type='PackInputs')]))
    return dict(
        default_scope='mmpretrain',
        work_dir=work_dir,
        model=model,
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='semi_supervised_collate'),
            dataset=dict(
                type='SemiSupervisedDataset', dataset=folder,
                weak_pipeline=weak, strong_pipeline=strong,
                labeled_per_class=1, mu=2, labeled_views=views)),
        val_dataloader=val_loader,
        val_evaluator=dict(type='Accuracy', topk=(1, )),
        val_cfg=dict(),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=3,
                       val_interval=3),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=3,
                            by_epoch=False)),
        randomness=dict(seed=0),
        log_level='WARNING',
    )


@pytest.mark.parametrize('model_type', sorted(CLASSIFIERS))
def test_three_iterations_through_the_runner(model_type, tmp_path):
    root = write_image_folder(str(tmp_path / 'data'), per_class=3)
    runner = Runner.from_cfg(
        semi_runner_cfg(model_type, root, str(tmp_path / 'work')))
    runner.train()
    assert runner.iter == 3
    logged = runner.message_hub.log_scalars
    losses = [key for key in logged if key.startswith('train/loss')]
    assert losses
    for key in losses:
        assert math.isfinite(logged[key].current()), key
    assert 0 <= logged['val/accuracy/top1'].current() <= 100
    if model_type.startswith('DMix'):
        # 3 iterations: the last one's ramped weight is 1 - cos^2(pi/6)
        # cos^2(pi/3) = 0.8125, and the term is on.
        assert logged['train/lu_weight'].current() == pytest.approx(0.8125)
        assert logged['train/loss_mix_lu'].current() > 0
        assert logged['train/loss_mix_ll'].current() > 0
