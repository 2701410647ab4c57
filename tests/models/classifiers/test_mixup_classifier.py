import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.models.classifiers.mixup_classifier import build_mixer_probs


def build_classifier(num_classes=3, **kwargs):
    cfg = dict(
        type='MixupClassifier',
        backbone=dict(
            type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='DMClsHead', num_classes=num_classes, in_channels=64),
        mixer=dict(type='Mixup', alpha=1.0))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def test_train_three_iterations_through_runner(runner_cfg):
    runner = Runner.from_cfg(runner_cfg(max_iters=3))
    runner.train()
    assert runner.iter == 3
    logged = runner.message_hub.log_scalars
    for key in ('train/loss', 'train/loss_mce', 'train/loss_dr'):
        assert key in logged and torch.isfinite(
            torch.tensor(logged[key].current()))


def test_stock_head_and_stock_batch_augments(runner_cfg):
    """The loss alone in a stock LinearClsHead, mixing done by mmpretrain's
    own train_cfg.augments with a dm_plugin mixer."""
    model = dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=3,
            mean=[127.5] * 3, std=[127.5] * 3),
        backbone=dict(
            type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead', num_classes=3, in_channels=64,
            loss=dict(type='DecoupledMixupLoss', eta=0.1)),
        train_cfg=dict(augments=[
            dict(type='dm_plugin.CutMix', alpha=1.0),
            dict(type='Mixup', alpha=0.8),
        ]))
    runner = Runner.from_cfg(runner_cfg(max_iters=3, model=model))
    runner.train()
    assert runner.iter == 3
    assert 'train/loss' in runner.message_hub.log_scalars


def test_loss_sets_mixed_scores_and_predict_is_unmixed():
    torch.manual_seed(0)
    model = build_classifier()
    inputs = torch.randn(6, 3, 16, 16)
    data = samples([0, 1, 2, 0, 1, 2])
    losses = model.loss(inputs, data)
    assert set(losses) == {'loss_mce', 'loss_dr'}
    scores = torch.stack([d.gt_score for d in data])
    torch.testing.assert_close(scores.sum(1), torch.ones(6))
    assert (scores.max(1).values < 1).any()  # the batch was mixed
    model.eval()
    predicted = torch.stack([p.pred_score for p in model.predict(inputs)])
    # the plain forward pass of the unmixed images, layer by layer
    features = model.neck(model.backbone(inputs))[-1]
    expected = torch.softmax(features @ model.head.fc.weight.T +
                             model.head.fc.bias, dim=1)
    torch.testing.assert_close(predicted, expected)


def test_no_mixer_trains_on_one_hot():
    model = build_classifier(mixer=None)
    data = samples([0, 1, 2])
    losses = model.loss(torch.randn(3, 3, 16, 16), data)
    scores = torch.stack([d.gt_score for d in data])
    torch.testing.assert_close(scores, torch.eye(3))
    assert torch.count_nonzero(losses['loss_dr']) == 0


def test_mixer_list_and_probs():
    model = build_classifier(
        mixer=[dict(type='Mixup'), dict(type='CutMix')],
        mixer_probs=[0.3, 0.2])
    assert len(model.mixers) == 2
    assert model.mixer_probs.tolist() == pytest.approx([0.3, 0.2, 0.5])
    picks = {type(model.choose_mixer()).__name__ for _ in range(200)}
    assert picks == {'Mixup', 'CutMix', 'NoneType'}


@pytest.mark.parametrize('probs, message', [
    ([0.5], '1 entries for 2 mixers'),
    ([0.8, 0.8], 'sum to'),
    ([-0.1, 0.5], 'non-negative'),
])
def test_bad_mixer_probs(probs, message):
    with pytest.raises(ValueError, match=message):
        build_mixer_probs(2, probs)


def test_unknown_mixer_lists_available():
    with pytest.raises(KeyError, match='available mixers: .*CutMix.*Mixup'):
        build_classifier(mixer=dict(type='NoSuchMix'))


def test_double_mixing_is_refused():
    with pytest.raises(ValueError, match='mixes batches itself'):
        build_classifier(train_cfg=dict(augments=dict(type='Mixup')))


def test_label_out_of_range_names_num_classes():
    model = build_classifier(num_classes=3)
    with pytest.raises(ValueError, match='num_classes'):
        model.loss(torch.randn(2, 3, 16, 16), samples([0, 5]))


class ProtocolMixer(torch.nn.Module):
    """A mixer using every optional hook of the mixer protocol."""

    needs_model = True

    def __init__(self, loss_name='loss_extra'):
        super().__init__()
        self.loss_name = loss_name
        self.calls = []

    def bind_classifier(self, classifier):
        self.calls.append('bind')

    def train_iter_update(self, classifier):
        self.calls.append('update')

    def forward(self, inputs, scores, model):
        self.calls.append('mix')
        self.loss = model.extract_feat(inputs)[-1].sum() * 0
        return inputs, scores

    def pop_losses(self):
        return {self.loss_name: self.loss + 1}


def test_mixer_protocol_hooks_and_extra_losses():
    mixer = ProtocolMixer()
    model = build_classifier(mixer=mixer)
    assert mixer.calls == ['bind']
    model.init_weights()
    assert mixer.calls == ['bind', 'bind']
    losses = model.loss(torch.randn(2, 3, 16, 16), samples([0, 1]))
    assert mixer.calls[2:] == ['update', 'mix']
    assert losses['loss_extra'] == 1
    assert losses['mix_time'].dim() == 0 and losses['mix_time'] > 0
    # Updates run every iteration, also when the mixer is not drawn.
    model.mixer_probs[:] = [0., 1.]
    losses = model.loss(torch.randn(2, 3, 16, 16), samples([0, 1]))
    assert mixer.calls[4:] == ['update'] and 'mix_time' not in losses


def test_mixer_losses_need_a_dict_and_unique_keys():
    model = build_classifier(mixer=ProtocolMixer())
    with pytest.raises(ValueError, match='extra_losses'):
        model.mix(torch.randn(2, 3, 16, 16), samples([0, 1]))
    model = build_classifier(mixer=ProtocolMixer('loss_mce'))
    with pytest.raises(KeyError, match='loss_mce'):
        model.loss(torch.randn(2, 3, 16, 16), samples([0, 1]))


@pytest.mark.parametrize('log_mix_time, mixer, timed', [
    ('dynamic', dict(type='Mixup'), False),
    ('all', dict(type='Mixup'), True),
    ('none', dict(type='AttentiveMix'), False),
    ('dynamic', dict(type='AttentiveMix'), True),
])
def test_mix_time_logging(log_mix_time, mixer, timed):
    """``sync_mix_time`` changes nothing on CPU (there is nothing to wait
    for), so it is on here to check that it is accepted."""
    model = build_classifier(
        mixer=mixer, log_mix_time=log_mix_time, sync_mix_time=True)
    losses = model.loss(torch.randn(2, 3, 16, 16), samples([0, 1]))
    assert ('mix_time' in losses) == timed
    if timed:
        assert losses['mix_time'].device.type == 'cpu'
        assert losses['mix_time'] > 0


def test_bad_mix_time_options():
    with pytest.raises(ValueError, match='log_mix_time'):
        build_classifier(log_mix_time='sometimes')
    with pytest.raises(TypeError, match='sync_mix_time'):
        build_classifier(sync_mix_time='yes')


def test_mix_time_is_logged_by_the_runner(runner_cfg):
    cfg = runner_cfg(max_iters=2)
    cfg['model']['log_mix_time'] = 'all'
    runner = Runner.from_cfg(cfg)
    runner.train()
    logged = runner.message_hub.log_scalars
    assert logged['train/mix_time'].current() > 0
    # Logged, not optimised: the total loss is the head's.
    assert logged['train/loss'].current() == pytest.approx(
        logged['train/loss_mce'].current() +
        logged['train/loss_dr'].current(), rel=1e-5)
