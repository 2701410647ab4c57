"""DMixTuning: Self-Tuning's terms unchanged, plus the two mixup terms with
their weights."""
import pytest
import torch

from dm_plugin.models.classifiers.semi_schedules import ramp_up
from semi_helpers import batch, build, set_progress

SELF_TUNING_TERMS = ('loss_pgc_l', 'loss_cls', 'loss_pgc_u', 'pseudo_acc')


def test_self_tuning_terms_are_self_tunings():
    set_progress(30, 100)
    plain = build('SelfTuning').train()
    mixed = build('DMixTuning').train()
    missing, unexpected = mixed.load_state_dict(plain.state_dict(),
                                                strict=False)
    assert all(key.startswith('mix_head.') for key in missing)
    assert not unexpected
    inputs, samples = batch(views=2)
    expected = plain.loss(inputs, samples)
    losses = mixed.loss(inputs, samples)
    for key in SELF_TUNING_TERMS:
        torch.testing.assert_close(losses[key], expected[key], msg=key)
    assert {'loss_mix_ll', 'loss_mix_lu', 'lu_weight'} <= set(losses)


@pytest.mark.parametrize('iteration', [0, 2, 40, 100])
def test_lu_weight_follows_the_ramp_and_starts_at_zero(iteration):
    torch.manual_seed(0)
    model = build('DMixTuning', lu_weight=0.5).train()
    set_progress(iteration, 100)
    losses = model.loss(*batch(views=2))
    weight = 0.5 * ramp_up('compounded_cosine', iteration, 100)
    torch.testing.assert_close(losses['lu_weight'], torch.tensor(weight))
    assert (losses['loss_mix_lu'] == 0) == (iteration == 0)
    assert losses['loss_mix_ll'] > 0


def test_every_part_trains_and_the_weights_switch_terms_off():
    torch.manual_seed(0)
    model = build('DMixTuning').train()
    set_progress(50, 100)
    losses = model.loss(*batch(views=2))
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    for part in (model.backbone, model.head, model.projector,
                 model.mix_head):
        assert all(p.grad is not None for p in part.parameters())

    model = build('DMixTuning', ll_weight=0., lu_weight=0.)
    assert model.mix_head is None
    assert set(model.loss(*batch(views=2))) == set(SELF_TUNING_TERMS)
