"""Config checks: unknown mixer, batch-augment and loss types named with the
choices, mixers where they cannot work, ``indices`` subsets, and
``--cfg-options`` values mmengine cannot parse."""
import argparse
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config, DictAction

from dm_plugin.engine import (CfgOptionsAction, check_dataset_indices,
                              check_model_types)
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


def augments_model(*augments):
    return dict(type='ImageClassifier',
                train_cfg=dict(augments=[dict(type=t) for t in augments]))


def test_unscoped_dm_plugin_mixer_in_augments_gets_its_scoped_name():
    """mmpretrain's registry has no 'FMix': the hint is dm-plugin's scoped
    name, not the closest spelling ('Mixup'), and the list offers only
    mixers that work there."""
    with pytest.raises(KeyError) as info:
        check_model_types(augments_model('Mixup', 'FMix'))
    message = str(info.value)
    assert "unknown augments 'FMix' at model.train_cfg.augments[1]" in message
    assert "did you mean 'dm_plugin.FMix'?" in message
    assert "'Mixup'?" not in message
    available = message.split('Available: ')[1]
    assert 'dm_plugin.FMix' in available and 'dm_plugin.CutMix' in available
    for name, mixer in MIXERS.module_dict.items():
        assert (f'dm_plugin.{name}' in available) != mixer.needs_model


# A dynamic mixer, and a static one that mixes hidden features of the model.
@pytest.mark.parametrize('name',
                         ['dm_plugin.PuzzleMix', 'dm_plugin.ManifoldMix'])
def test_mixer_that_needs_the_model_is_refused_in_augments(name):
    with pytest.raises(ValueError) as info:
        check_model_types(augments_model(name))
    message = str(info.value)
    assert f"'{name}' at model.train_cfg.augments[0] needs the model" in \
        message
    assert "type='MixupClassifier'" in message
    assert f"mixer=dict(type='{name.split('.')[1]}')" in message
    assert 'dm_plugin.FMix' in message


def test_unscoped_dynamic_mixer_in_augments_points_to_the_classifier():
    with pytest.raises(KeyError, match="PuzzleMix is a dm-plugin mixer that "
                       "needs the model: use it in model=dict"):
        check_model_types(augments_model('PuzzleMix'))


def test_train_tool_refuses_a_dynamic_augment_before_building(tmp_path):
    """Without the check, the model builds and the first iteration fails."""
    cfg = Config(dict(model=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18),
        train_cfg=dict(augments=[dict(type='dm_plugin.PuzzleMix')]))))
    path = str(tmp_path / 'bad.py')
    cfg.dump(path)
    result = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), path,
         '--work-dir', str(tmp_path / 'work')],
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "'dm_plugin.PuzzleMix' at model.train_cfg.augments[0] needs the " \
        'model' in result.stderr
    assert not (tmp_path / 'work').exists()


def test_dict_cfg_option_names_the_keyed_form(capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    with pytest.raises(SystemExit):
        parser.parse_args(
            ['--cfg-options', "model.mixer=dict(type='FMix', alpha=1.0)"])
    error = capsys.readouterr().err
    assert 'cannot take a dict' in error
    assert '--cfg-options model.mixer.type=FMix model.mixer.alpha=1.0' in \
        error
    # mmengine's own parser recurses until Python gives up on this value.
    plain = argparse.ArgumentParser()
    plain.add_argument('--cfg-options', nargs='+', action=DictAction)
    with pytest.raises(RecursionError):
        plain.parse_args(['--cfg-options', "model.mixer=dict(type='FMix', "
                          "alpha=1.0)"])
    # What the error suggests sets the same config as the dict would.
    options = parser.parse_args(['--cfg-options', 'model.mixer.type=FMix',
                                 'model.mixer.alpha=1.0', 'a=[1,2]'])
    assert options.cfg_options == {'model.mixer.type': 'FMix',
                                   'model.mixer.alpha': 1.0, 'a': [1, 2]}
    cfg = Config(dict(model=dict(mixer=dict(type='Mixup', alpha=0.2))))
    cfg.merge_from_dict(options.cfg_options)
    assert cfg.model.mixer == dict(type='FMix', alpha=1.0)


def test_cfg_option_with_unbalanced_brackets_is_a_usage_error(capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    with pytest.raises(SystemExit):
        parser.parse_args(['--cfg-options', 'a=[1,2'])
    assert 'could not parse' in capsys.readouterr().err


def test_integer_indices_warn_and_point_to_class_balanced_subset():
    cfg = Config(dict(
        train_dataloader=dict(dataset=dict(
            type='ClassBalancedSubset', per_class=4,
            dataset=dict(type='CustomDataset', indices=400))),
        val_dataloader=dict(dataset=dict(type='CustomDataset',
                                         indices=[0, 5, 9])),
        test_dataloader=None))
    with pytest.warns(UserWarning) as record:
        messages = check_dataset_indices(cfg)
    assert len(messages) == len(record) == 1
    assert messages[0].startswith(
        'train_dataloader.dataset.dataset.indices=400 keeps the first 400 '
        'samples')
    assert "type='ClassBalancedSubset'" in messages[0]
