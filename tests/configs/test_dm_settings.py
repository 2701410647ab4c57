"""Every DM config trains with the settings of the authors' DM run it
reproduces, or with the rule docs/configs.md states where there is none.

The table is transcribed from OpenMixup (Westlake-AI/openmixup, 37e1372):
``configs/classification/cifar100/mixups/decouple/{r18,rx50}/*.py`` and
``configs/classification/imagenet/mixups/decouple/{r18,r50}_*.py``, as
(mixer alpha, eta_weight eta, eta_weight mode, lam_idx).
"""
from pathlib import Path

import pytest
from mmengine.config import Config

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
OPENMIXUP_DECOUPLE = {
    'cifar100/r18_mixup_dm_ep800.py': (0.2, 0.01, 'more', 0.5),
    'cifar100/r18_cutmix_dm_ep800.py': (0.2, 0.1, 'less', 0.5),
    'cifar100/r18_fmix_dm_ep800.py': (0.2, 0.01, 'less', 0.),
    'cifar100/r18_manifoldmix_dm_ep800.py': (0.5, 0.01, 'more', 0.),
    'cifar100/r18_resizemix_dm_ep800.py': (0.2, 0.1, 'less', 0.5),
    'cifar100/r18_saliencymix_dm_ep800.py': (0.2, 0.01, 'less', 0.),
    'cifar100/rx50_mixup_dm_ep800.py': (0.2, 0.01, 'both', 1.),
    'cifar100/rx50_cutmix_dm_ep800.py': (0.2, 0.1, 'both', 1.),
    'imagenet/r18_mixup_dm_ep100.py': (1., 0.1, 'both', 1.),
    'imagenet/r50_mixup_dm_ep100.py': (1., 0.1, 'both', 1.),
}
DECOUPLE = dict(both='both', more='major', less='minor')
DM_CE_CONFIGS = sorted(
    f'{path.parent.name}/{path.name}'
    for path in CONFIG_DIR.glob('*/*_dm_ep*.py')
    if path.parent.name not in ('semisup', 'protocol'))


def load(name):
    return Config.fromfile(str(CONFIG_DIR / name))


def test_every_openmixup_decouple_config_has_its_dm_config():
    assert set(OPENMIXUP_DECOUPLE) <= set(DM_CE_CONFIGS)


@pytest.mark.parametrize('name', DM_CE_CONFIGS)
def test_dm_settings_follow_openmixup(name):
    cfg = load(name)
    loss = dict(cfg.model.head.loss)
    assert loss.pop('type') == 'DecoupledMixupLoss'
    mixer_alpha = cfg.model.mixer.alpha
    if name in OPENMIXUP_DECOUPLE:
        alpha, eta, mode, lam_idx = OPENMIXUP_DECOUPLE[name]
        assert mixer_alpha == alpha
        assert loss == dict(eta=eta, decouple=DECOUPLE[mode],
                            lam_power=lam_idx)
        assert 'OpenMixup' in Path(CONFIG_DIR / name).read_text()
    else:
        # No DM run to follow: the baseline's alpha and the decouple
        # configs' defaults (eta 0.1, both classes, λ-weighted).
        baseline = load(name.replace('_dm_', '_mce_'))
        assert mixer_alpha == baseline.model.mixer.alpha
        assert loss == dict(eta=0.1)
        assert 'defaults' in Path(CONFIG_DIR / name).read_text() or \
            cfg.model.mixer.type in ('PuzzleMix', 'AutoMix')
