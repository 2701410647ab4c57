import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.engine.checkpoint import load_checkpoint_file
from dm_plugin.models.classifiers.semi_dm_classifier import (
    pseudo_label_accuracy, pseudo_labels)
from dm_plugin.models.mixers import BaseMixer

NUM_CLASSES, B, MU = 3, 2, 2
U = B * MU


def build(**kwargs):
    cfg = dict(
        type='SemiDMClassifier',
        backbone=dict(type='WideResNet', depth=10, widen_factor=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                  in_channels=64))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def batch(seed=0, unlabeled_labels=True):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(B + 2 * U, 3, 8, 8, generator=generator)
    samples = []
    for i in range(B):
        sample = DataSample().set_gt_label(i % NUM_CLASSES)
        if unlabeled_labels:
            sample.set_field(
                torch.arange(MU) % NUM_CLASSES, 'unlabeled_gt_label')
        samples.append(sample)
    return inputs, samples


def fixmatch_reference(model, inputs, labels, threshold, lambda_u=1.0):
    """FixMatch's loss written out: CE on labeled + masked CE of strong views
    against hard pseudo-labels of weak views, averaged over all unlabeled."""
    logits = model.head(model.extract_feat(inputs))
    logits_x = logits[:B]
    logits_w, logits_s = logits[B:B + U], logits[B + U:]
    probs = torch.softmax(logits_w.detach(), dim=-1)
    max_probs, targets_u = probs.max(dim=-1)
    mask = max_probs.ge(threshold).float()
    loss_x = F.cross_entropy(logits_x, labels, reduction='mean')
    loss_u = (F.cross_entropy(logits_s, targets_u, reduction='none') *
              mask).mean()
    return loss_x + lambda_u * loss_u, loss_x, loss_u, mask


def total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


@pytest.mark.parametrize('threshold', [0.0, 0.4, 0.95, 1.0])
def test_without_dm_the_loss_is_exactly_fixmatch(threshold):
    torch.manual_seed(0)
    model = build(dm=False, threshold=threshold, lambda_u=0.7)
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_x', 'loss_u', 'mask_ratio', 'pseudo_acc'}
    labels = torch.tensor([0, 1])
    expected, loss_x, loss_u, mask = fixmatch_reference(
        model, inputs, labels, threshold, lambda_u=0.7)
    torch.testing.assert_close(total(losses), expected)
    torch.testing.assert_close(losses['loss_x'], loss_x)
    torch.testing.assert_close(losses['loss_u'], 0.7 * loss_u)
    torch.testing.assert_close(losses['mask_ratio'], mask.mean())


def test_dm_adds_a_term_and_keeps_the_fixmatch_terms():
    torch.manual_seed(0)
    model = build(dm=True, threshold=0.0)
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    _, loss_x, loss_u, _ = fixmatch_reference(model, inputs,
                                              torch.tensor([0, 1]), 0.0)
    torch.testing.assert_close(losses['loss_x'], loss_x)
    torch.testing.assert_close(losses['loss_u'], loss_u)
    assert torch.isfinite(losses['loss_dm']) and losses['loss_dm'] > 0
    total(losses).backward()
    assert model.head.fc.weight.grad is not None


@pytest.mark.parametrize('threshold', [0.5, 0.7, 0.9, 0.95, 0.99])
def test_mask_follows_the_threshold(threshold):
    torch.manual_seed(0)
    logits = torch.randn(200, 4) * 3
    labels, mask = pseudo_labels(logits, threshold)
    probs = logits.softmax(dim=-1)
    assert torch.equal(labels, probs.argmax(dim=-1))
    assert torch.equal(mask.bool(), probs.max(dim=-1).values >= threshold)
    assert 0 < mask.sum() < 200
    assert mask.dtype == torch.float32


def test_mask_at_the_threshold_and_no_gradient():
    logits = torch.log(torch.tensor([[0.75, 0.25], [0.5, 0.5],
                                     [0.125, 0.875]])).requires_grad_()
    labels, mask = pseudo_labels(logits, 0.75)
    assert labels.tolist() == [0, 0, 1]
    assert mask.tolist() == [1., 0., 1.]
    assert not mask.requires_grad


def test_pseudo_accuracy_counts_kept_known_labels_only():
    pseudo = torch.tensor([0, 1, 2, 0, 1])
    mask = torch.tensor([1., 1., 0., 1., 1.])
    true = torch.tensor([0, 2, 2, -1, 1])
    # kept and known: 0 (right), 1 (wrong), 4 (right); 2 not kept, 3 unknown
    torch.testing.assert_close(
        pseudo_label_accuracy(pseudo, mask, true), torch.tensor(2 / 3))
    torch.testing.assert_close(
        pseudo_label_accuracy(pseudo, torch.zeros(5), true), torch.tensor(0.))


def test_pseudo_acc_is_left_out_without_true_labels():
    model = build(dm=False)
    losses = model.loss(*batch(unlabeled_labels=False))
    assert 'pseudo_acc' not in losses


class RecordingMixer(BaseMixer):
    """Mixes nothing; keeps what the classifier hands to the mixer."""

    def mix(self, inputs, scores):
        self.seen = (inputs.clone(), scores.clone())
        return inputs, scores


@pytest.mark.parametrize('threshold, confident', [(0.0, True),
                                                  (1.0, False)])
def test_mixer_gets_labeled_and_pseudo_labeled_partners(threshold, confident):
    torch.manual_seed(0)
    model = build(dm=True, threshold=threshold,
                  mixer=dict(type=RecordingMixer))
    inputs, samples = batch()
    model.loss(inputs, samples)
    mixed_inputs, scores = model.mixer.seen
    assert mixed_inputs.shape == (2 * B, 3, 8, 8)
    torch.testing.assert_close(mixed_inputs[:B], inputs[:B])
    torch.testing.assert_close(scores[:B], torch.eye(NUM_CLASSES)[[0, 1]])
    # Partners are distinct weak views of unlabeled samples.
    weak = inputs[B:B + U].flatten(1)
    matches = (mixed_inputs[B:].flatten(1)[:, None] == weak[None]).all(-1)
    assert (matches.sum(dim=1) == 1).all()
    assert matches.any(dim=0).sum() == B
    partner_scores = scores[B:]
    if confident:  # one-hot pseudo-labels
        torch.testing.assert_close(partner_scores.sum(dim=1), torch.ones(B))
    else:  # unconfident: no target mass
        assert torch.count_nonzero(partner_scores) == 0


def test_confident_partners_come_first():
    torch.manual_seed(0)
    model = build(dm=True, mixer=dict(type=RecordingMixer))
    mask = torch.tensor([0., 1., 0., 1.])
    pseudo = torch.tensor([2, 1, 0, 2])
    labeled = torch.randn(B, 3, 8, 8)
    unlabeled = torch.randn(U, 3, 8, 8)
    for _ in range(5):
        model.mixed_loss(labeled, torch.tensor([0, 1]), unlabeled, pseudo,
                         mask)
        partners = model.mixer.seen[0][B:]
        chosen = {int(((unlabeled - p).abs().sum(dim=(1, 2, 3)) == 0)
                      .nonzero()) for p in partners}
        assert chosen == {1, 3}


def test_ema_starts_at_the_model_and_follows_it():
    torch.manual_seed(0)
    model = build(dm=False, ema_momentum=0.9)
    model.init_weights()
    for ema, online in zip(model.ema['backbone'].parameters(),
                           model.backbone.parameters()):
        assert torch.equal(ema, online)
        assert not ema.requires_grad
    before = [p.clone() for p in model.ema.parameters()]
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.)
    model.train()
    assert not model.ema.training
    buffers = [b.clone() for b in model.backbone.buffers()]
    model.loss(*batch())
    for old, ema, online in zip(before, model.ema['backbone'].parameters(),
                                model.backbone.parameters()):
        torch.testing.assert_close(ema, 0.9 * old + 0.1 * online)
    # BN statistics are copied at the start of the step, before the
    # step's forward pass moves the online ones.
    for ema, online in zip(model.ema['backbone'].buffers(), buffers):
        assert torch.equal(ema, online)


def test_predict_uses_the_ema():
    torch.manual_seed(0)
    inputs = torch.randn(4, 3, 8, 8)
    with_ema, without = build(ema_momentum=0.99), build()
    for model in (with_ema, without):
        model.eval()
        first = torch.stack([p.pred_score for p in model.predict(inputs)])
        with torch.no_grad():
            model.head.fc.weight.add_(1.)
        second = torch.stack([p.pred_score for p in model.predict(inputs)])
        assert torch.equal(first, second) == (model is with_ema)


def test_ema_teacher_labels_the_weak_views():
    torch.manual_seed(0)
    model = build(dm=False, ema_momentum=0.5, teacher='ema', threshold=0.)
    with torch.no_grad():  # an EMA head sure of class 2; half of it stays
        model.ema['head'].fc.weight.zero_()  # after the step's EMA update
        model.ema['head'].fc.bias.copy_(torch.tensor([0., 0., 50.]))
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    logits = model.head(model.extract_feat(inputs))
    expected = F.cross_entropy(logits[B + U:], torch.full((U, ), 2))
    torch.testing.assert_close(losses['loss_u'], expected)
    torch.testing.assert_close(losses['pseudo_acc'], torch.tensor(0.))


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(threshold=1.5), ValueError, 'threshold'),
    (dict(lambda_u=-1), ValueError, 'lambda_u'),
    (dict(ema_momentum=1.0), ValueError, 'ema_momentum'),
    (dict(teacher='ema'), ValueError, 'needs ema_momentum'),
    (dict(teacher='student'), ValueError, 'teacher'),
    (dict(dm=1), TypeError, 'dm must be a bool'),
    (dict(train_cfg=dict(augments=dict(type='Mixup'))), ValueError,
     'mixes batches itself'),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        build(**kwargs)


def test_batch_without_unlabeled_views_names_the_collate():
    model = build()
    inputs, samples = batch()
    with pytest.raises(ValueError, match='semi_supervised_collate'):
        model.loss(inputs[:B + 1], samples)


def semi_runner_cfg(runner_cfg, tmp_path, image_folder, **kwargs):
    cfg = runner_cfg(
        model=dict(
            type='SemiDMClassifier',
            data_preprocessor=dict(
                type='ClsDataPreprocessor', num_classes=3,
                mean=[127.5] * 3, std=[127.5] * 3),
            backbone=dict(type='WideResNet', depth=10, widen_factor=1),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=3, in_channels=64),
            threshold=0.5,
            ema_momentum=0.9,
            mixer=dict(type='CutMix', alpha=1.0)),
        batch_size=2, **kwargs)
    cfg['train_dataloader']['collate_fn'] = dict(
        type='semi_supervised_collate')
    inner = cfg['train_dataloader']['dataset']
    inner['pipeline'] = [dict(type='LoadImageFromFile')]
    cfg['train_dataloader']['dataset'] = dict(
        type='SemiSupervisedDataset',
        dataset=inner,
        labeled_per_class=1,
        mu=2,
        split_file=str(tmp_path / 'split.json'),
        weak_pipeline=[dict(type='RandomFlip', prob=0.5),
                       dict(type='PackInputs')],
        strong_pipeline=[dict(type='Cutout', shape=4, prob=1.0),
                         dict(type='PackInputs')])
    return cfg


def test_three_iterations_through_runner(runner_cfg, tmp_path, image_folder):
    runner = Runner.from_cfg(
        semi_runner_cfg(runner_cfg, tmp_path, image_folder, max_iters=3))
    runner.train()
    assert runner.iter == 3
    logged = runner.message_hub.log_scalars
    for key in ('train/loss', 'train/loss_x', 'train/loss_u',
                'train/loss_dm', 'train/mask_ratio', 'train/pseudo_acc',
                'val/accuracy/top1'):
        assert key in logged, key
    assert (tmp_path / 'split.json').is_file()


class CaptureAtStart(Hook):
    """Keeps the iteration and EMA weights the training loop starts from."""

    def before_train(self, runner):
        self.start_iter = runner.iter
        self.ema = copy.deepcopy(runner.model.ema.state_dict())


def test_resume_mid_run(runner_cfg, tmp_path, image_folder):
    first = Runner.from_cfg(
        semi_runner_cfg(runner_cfg, tmp_path, image_folder, max_iters=4,
                        checkpoint_interval=2))
    first.train()
    checkpoint = tmp_path / 'work' / 'iter_2.pth'
    saved = load_checkpoint_file(str(checkpoint))['state_dict']

    cfg = semi_runner_cfg(runner_cfg, tmp_path, image_folder, max_iters=4,
                          checkpoint_interval=2)
    cfg.update(work_dir=str(tmp_path / 'resumed'), resume=True,
               load_from=str(checkpoint))
    capture = CaptureAtStart()
    cfg['custom_hooks'] = [capture]
    resumed = Runner(**cfg)  # a hook object cannot go through a Config
    resumed.train()
    assert capture.start_iter == 2 and resumed.iter == 4
    for name, value in capture.ema.items():
        assert torch.equal(value, saved[f'ema.{name}']), name
    # The EMA moved on from the checkpoint during the two resumed steps.
    assert not torch.equal(resumed.model.ema['head'].fc.weight,
                           saved['ema.head.fc.weight'])
