"""DMixMatch: its EMA teacher (momentum, modes, statistics), where its
pseudo-labels come from, its loss terms and weights, its checks."""
import pytest
import torch
import torch.nn.functional as F

from dm_plugin.datasets.semi_supervised import split_semi_supervised_batch
from dm_plugin.models.classifiers.semi_schedules import ema_momentum, ramp_up
from semi_helpers import B, U, batch, build, labels_of, set_progress

TEACHER_BN = 'ema.backbone.final_norm'


def test_default_mix_head_is_a_separate_copy_trained_with_dm():
    model = build('DMixMatch')
    assert model.mix_head is not model.head
    assert model.mix_head.fc.weight.shape == model.head.fc.weight.shape
    loss = model.mix_head.loss_module
    assert type(loss).__name__ == 'DecoupledMixupLoss'
    assert (loss.eta, loss.lam_power, loss.decouple,
            loss.mode) == (1.0, 1.0, 'both', 'ce')
    assert not any(name.startswith('ema.mix_head')
                   for name in model.state_dict())


@pytest.mark.parametrize('iteration', [0, 1, 10, 60, 100])
def test_teacher_takes_one_ema_step_with_the_scheduled_momentum(iteration):
    torch.manual_seed(0)
    model = build('DMixMatch', threshold=0.5, mix_threshold=0.5).train()
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(0.1 * torch.randn_like(param))
    teacher = {k: v.clone() for k, v in model.ema.named_parameters()}
    online = dict(model.named_parameters())
    set_progress(iteration, 100)
    losses = model.loss(*batch())
    # OpenMixup's hook steps the EMA after step k-1 with that step's
    # momentum; here that step is taken at the start of step k.
    momentum = ema_momentum(max(iteration - 1, 0), 100, 0.999, 0.99999)
    torch.testing.assert_close(losses['teacher_momentum'],
                               torch.tensor(momentum))
    for name, param in model.ema.named_parameters():
        expected = momentum * teacher[name] + (1 - momentum) * online[name]
        torch.testing.assert_close(param, expected, msg=name)


def test_teacher_runs_in_training_mode_with_statistics_of_its_own():
    torch.manual_seed(0)
    model = build('DMixMatch').train()
    set_progress(50, 100)
    with torch.no_grad():  # the model's statistics move away
        model.backbone.final_norm.running_mean.add_(1.)
        model.backbone.final_norm.num_batches_tracked.add_(5)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    inputs, samples = batch()
    model.loss(inputs, samples)
    after = model.state_dict()
    # One teacher forward (weak views) in training mode; its statistics are
    # not averaged from the model's, which made four forward passes.
    tracked = 'num_batches_tracked'
    assert after[f'{TEACHER_BN}.{tracked}'] - state[
        f'{TEACHER_BN}.{tracked}'] == 1
    assert after[f'backbone.final_norm.{tracked}'] - state[
        f'backbone.final_norm.{tracked}'] == 4
    (_, ), weak, _ = split_semi_supervised_batch(inputs, B)
    teacher = model.ema['backbone']
    with torch.no_grad():
        feats = teacher.stem(weak)
        for group in teacher.groups:
            feats = group(feats)
    teacher_bn = teacher.final_norm
    batch_mean = feats.mean(dim=(0, 2, 3))
    expected = (1 - teacher_bn.momentum) * state[
        f'{TEACHER_BN}.running_mean'] + teacher_bn.momentum * batch_mean
    torch.testing.assert_close(after[f'{TEACHER_BN}.running_mean'], expected)
    model.eval()
    assert not model.ema.training


def test_pseudo_labels_come_from_the_teacher():
    torch.manual_seed(0)
    model = build('DMixMatch').train()
    set_progress(0, 100)
    with torch.no_grad():
        model.ema['head'].fc.bias.copy_(torch.tensor([0., 0., 50.]))
        model.head.fc.bias.copy_(torch.tensor([50., 0., 0.]))
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    assert losses['mask_ratio'] == 1  # the teacher is sure: class 2
    (labeled, ), weak, strong = split_semi_supervised_batch(inputs, B)
    expected_u = F.cross_entropy(model.logits(strong),
                                 torch.full((U, ), 2))
    torch.testing.assert_close(losses['loss_u'], expected_u)
    torch.testing.assert_close(
        losses['loss_x'], F.cross_entropy(model.logits(labeled),
                                          labels_of(samples)))
    # pseudo_acc against the unlabeled labels 0, 1, 0, 1, ...
    torch.testing.assert_close(losses['pseudo_acc'], torch.tensor(0.))


@pytest.mark.parametrize('ramp', ['compounded_cosine', 'cosine'])
@pytest.mark.parametrize('iteration', [0, 3, 20, 50, 100])
def test_lu_weight_follows_its_ramp(ramp, iteration):
    torch.manual_seed(0)
    model = build('DMixMatch', lu_ramp=ramp, lu_weight=2.0, threshold=0.3,
                  mix_threshold=0.3)
    set_progress(iteration, 100)
    losses = model.loss(*batch())
    weight = 2.0 * ramp_up(ramp, iteration, 100)
    torch.testing.assert_close(losses['lu_weight'], torch.tensor(weight))
    if iteration == 0:
        assert losses['loss_mix_lu'] == 0
    else:
        assert losses['loss_mix_lu'] > 0


def test_without_mixup_weights_it_is_fixmatch_with_the_teacher():
    model = build('DMixMatch', ll_weight=0., lu_weight=0.)
    assert model.mix_head is None
    set_progress(5, 10)
    losses = model.loss(*batch())
    assert set(losses) == {'loss_x', 'loss_u', 'teacher_momentum',
                           'mask_ratio', 'pseudo_acc'}


def test_all_terms_train_and_predict_uses_the_teacher():
    torch.manual_seed(0)
    model = build('DMixMatch', threshold=0.3, mix_threshold=0.3).train()
    set_progress(50, 100)
    losses = model.loss(*batch())
    assert {'loss_x', 'loss_mix_ll', 'loss_u', 'loss_mix_lu'} <= set(losses)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    for part in (model.backbone, model.head, model.mix_head):
        assert all(p.grad is not None for p in part.parameters())
    assert all(p.grad is None for p in model.ema.parameters())

    model.eval()
    inputs = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = model.ema['head'](model.ema_features(inputs)).softmax(-1)
    scores = torch.stack([s.pred_score for s in model.predict(inputs)])
    torch.testing.assert_close(scores, expected)


@pytest.mark.parametrize('kwargs, message', [
    (dict(ema_end_momentum=0.99), 'ema_end_momentum'),
    (dict(ema_end_momentum=1.0), 'ema_end_momentum'),
    (dict(ema_ramp_start=1.5), 'ema_ramp_start'),
    (dict(mix_threshold=0.99), 'mix_threshold'),
    (dict(lam_bias='left'), 'lam_bias'),
    (dict(lu_ramp='linear'), 'lu_ramp'),
    (dict(alpha=0.), 'alpha'),
    (dict(ll_weight=-1.), 'll_weight'),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build('DMixMatch', init=False, **kwargs)


def test_schedules_need_the_iteration():
    from mmengine.logging import MessageHub
    MessageHub.get_instance('dmixmatch_without_runtime_info')
    model = build('DMixMatch')
    with pytest.raises(RuntimeError, match='iteration'):
        model.loss(*batch())
