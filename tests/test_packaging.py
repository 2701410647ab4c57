"""setup.py declares ranges, requirements/ pins the tested sets inside
them, and the README's commands install with those pins."""
import os.path as osp
import re
import runpy

import pytest
import setuptools
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONSTRAINTS = ('requirements/constraints.txt',
               'requirements/constraints-torch2.6.txt')


@pytest.fixture(scope='module')
def setup_kwargs():
    captured = {}
    original = setuptools.setup
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    try:
        runpy.run_path(osp.join(ROOT, 'setup.py'))
    finally:
        setuptools.setup = original
    return captured


def pins(path):
    pinned = {}
    for line in open(osp.join(ROOT, path)):
        line = line.split('#')[0].strip()
        if line:
            name, version = line.split('==')
            pinned[canonicalize_name(name)] = version
    return pinned


def requirements(kwargs):
    named = [*kwargs['install_requires']]
    for extra in kwargs['extras_require'].values():
        named += extra
    return [Requirement(r) for r in named]


def test_install_requires_leave_mmcv_to_the_environment(setup_kwargs):
    """A plugin must not put mmcv-lite over an environment's mmcv: neither
    is required; the `lite` extra brings mmcv-lite to a new one."""
    names = {canonicalize_name(Requirement(r).name)
             for r in setup_kwargs['install_requires']}
    assert not names & {'mmcv', 'mmcv-lite'}
    assert [Requirement(r).name for r in
            setup_kwargs['extras_require']['lite']] == ['mmcv-lite']
    assert 'openmim' in {Requirement(r).name for r in
                         setup_kwargs['extras_require']['tests']}


def test_requirements_are_ranges(setup_kwargs):
    for requirement in setup_kwargs['install_requires']:
        assert '==' not in requirement, requirement


@pytest.mark.parametrize('path', CONSTRAINTS)
def test_tested_sets_lie_inside_the_ranges(setup_kwargs, path):
    pinned = pins(path)
    for requirement in requirements(setup_kwargs):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f'{path} does not pin {name}'
        assert requirement.specifier.contains(pinned[name]), \
            f'{path}: {name}=={pinned[name]} outside {requirement}'


def test_oldest_tested_torch_is_the_lower_bound(setup_kwargs):
    torch = next(Requirement(r) for r in setup_kwargs['install_requires']
                 if Requirement(r).name == 'torch')
    lower = re.search(r'>=([\d.]+)', str(torch.specifier)).group(1)
    assert pins(CONSTRAINTS[1])['torch'] == f'{lower}.0'
    assert Version(pins(CONSTRAINTS[0])['torch']) > Version(
        pins(CONSTRAINTS[1])['torch'])


def test_setuptools_keeps_pkg_resources_for_mmpretrain_base_configs():
    """mmengine resolves `mmpretrain::` bases with pkg_resources, which
    setuptools 81 removed; setup.py keeps it below 81."""
    from mmengine.config import Config
    cfg = Config.fromstring(
        "_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py']", '.py')
    assert cfg.model.backbone.type == 'ResNet_CIFAR'


def test_readme_commands_install_the_tested_set():
    readme = open(osp.join(ROOT, 'README.md')).read()
    for marker in ('main-command', 'test-command'):
        block = readme.split(f'<!-- {marker} -->')[1].split('```')[1]
        lines = [line for line in block.splitlines()[1:] if line.strip()]
        assert len(lines) == 1, lines  # one line, run verbatim by CI
        assert '-c requirements/constraints.txt' in lines[0]
        assert '.[lite' in lines[0]
