"""Unknown mixer, batch-augment and loss types are named with the choices."""
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from dm_plugin.engine import check_model_types
from dm_plugin.registry import MIXERS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def model(**overrides):
    cfg = dict(
        type='MixupClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18),
        head=dict(type='DMClsHead', num_classes=3, in_channels=512,
                  loss=dict(type='DecoupledMixupLoss', eta=0.1)),
        mixer=[dict(type='Mixup'), dict(type='CutMix')])
    cfg.update(overrides)
    return cfg


def test_known_types_pass():
    check_model_types(model())
    check_model_types(
        Config.fromfile(
            osp.join(ROOT, 'configs/quickstart/digits_mixup_dm.py')).model)


def test_unknown_loss_lists_losses_and_suggests():
    cfg = model(head=dict(type='DMClsHead', loss=dict(
        type='DecoupledMixupLos')))
    with pytest.raises(KeyError) as info:
        check_model_types(cfg)
    message = str(info.value)
    assert "unknown loss 'DecoupledMixupLos' at model.head.loss." in message
    assert "Did you mean 'DecoupledMixupLoss'?" in message
    assert 'CrossEntropyLoss' in message and 'DecoupledMixupLoss' in message


def test_unknown_mixer_in_a_list_is_located():
    cfg = model(mixer=[dict(type='Mixup'), dict(type='PuzleMix')])
    with pytest.raises(KeyError, match=r"unknown mixer 'PuzleMix' at "
                       r'model.mixer\[1\]\..* Available: ') as info:
        check_model_types(cfg)
    for name in MIXERS.module_dict:
        assert name in str(info.value)


def test_unknown_batch_augment_lists_scoped_mixers():
    cfg = dict(type='ImageClassifier',
               train_cfg=dict(augments=[dict(type='dm_plugin.CutMx')]))
    with pytest.raises(KeyError, match=r"at model.train_cfg.augments\[0\]\. "
                       r"Did you mean 'dm_plugin.CutMix'\?"):
        check_model_types(cfg)


def test_train_tool_checks_before_building(tmp_path, monkeypatch):
    """tools/train.py stops with the list before building anything."""
    cfg = Config(dict(model=model(head=dict(
        type='LinearClsHead', loss=dict(type='FocalLos')))))
    path = str(tmp_path / 'bad.py')
    cfg.dump(path)
    monkeypatch.syspath_prepend(osp.join(ROOT, 'tools'))
    import train
    with pytest.raises(KeyError, match="Did you mean 'FocalLoss'"):
        train.main([path, '--work-dir', str(tmp_path / 'work')])
    sys.modules.pop('train')
