"""Tiny models, batches and a per-row Decoupled Mixup reference for the
semi-supervised classifier tests."""
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

NUM_CLASSES, B, MU = 3, 4, 2
U = B * MU


def build(model_type: str, init: bool = True, **kwargs):
    """A classifier on WRN-10-1 (64 features) for 8x8 images."""
    cfg = dict(
        type=model_type,
        backbone=dict(type='WideResNet', depth=10, widen_factor=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                  in_channels=64))
    if model_type in ('SelfTuning', 'DMixTuning'):
        cfg['projector'] = projector()
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    if init:
        model.init_weights()
    return model


def projector():
    return dict(type='MoCoV2Neck', in_channels=64, hid_channels=32,
                out_channels=16, with_avg_pool=False)


def batch(views: int = 1, seed: int = 0, unlabeled_labels: bool = True):
    """(B * (views + 2 * MU), 3, 8, 8) inputs and B labeled data samples."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(B * (views + 2 * MU), 3, 8, 8, generator=generator)
    samples = []
    for i in range(B):
        sample = DataSample().set_gt_label(i % NUM_CLASSES)
        if unlabeled_labels:
            sample.set_field(
                torch.arange(MU) % NUM_CLASSES, 'unlabeled_gt_label')
        samples.append(sample)
    return inputs, samples


def labels_of(samples):
    return torch.cat([s.gt_label for s in samples])


def set_progress(iteration: int, max_iters: int) -> None:
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', iteration)
    hub.update_info('max_iters', max_iters)


def dm_row(logits: torch.Tensor, score: torch.Tensor, eta: float,
           pos_thr: float = 1e-3) -> torch.Tensor:
    """Decoupled Mixup of one row, from the paper's definitions: mixup
    cross-entropy plus ``eta * sum_k s_k (-log decoupled softmax_k)`` over
    the mixed classes ``k`` (if there are two or more)."""
    log_prob = F.log_softmax(logits, dim=-1)
    loss = -(score * log_prob).sum()
    mixed = [k for k in range(score.numel()) if score[k] > pos_thr]
    if len(mixed) >= 2:
        others = [c for c in range(score.numel()) if c not in mixed]
        for k in mixed:
            decoupled = logits[[k] + others].log_softmax(dim=-1)[0]
            loss = loss - eta * score[k] * decoupled
    return loss
