"""dm-plugin: Decoupled Mixup and mixup policies for MMPretrain.

install_requires declares the ranges dm-plugin supports, so installing it
into an existing OpenMMLab environment keeps that environment's torch, mmcv
and mmengine. The exact sets CI tests are pinned in requirements/
(constraints.txt: the newest; constraints-torch2.6.txt: the oldest torch):

    pip install -e ".[lite]" -c requirements/constraints.txt
"""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    scope = {}
    with open(osp.join(HERE, 'dm_plugin', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


INSTALL_REQUIRES = [
    # 2.6: weights-only checkpoint loading with (object, name) allow-lists.
    # Tested: 2.6.0 and 2.14.1 (requirements/).
    'torch>=2.6',
    'torchvision>=0.21',
    'mmengine>=0.10,<1',
    'mmpretrain>=1.0,<2',
    # MMCV 2.x is needed too, as mmcv (compiled ops) or mmcv-lite (pure
    # Python, enough for dm-plugin); pip cannot express "either", so it is
    # checked at import (dm_plugin/environment.py) and `.[lite]` installs
    # mmcv-lite into environments that have neither.
    #
    # mmengine 0.10 resolves `mmpretrain::` base configs, and openmim finds
    # packages, with pkg_resources, which setuptools 81 removed.
    'setuptools<81',
    'numpy>=1.24',
    'scikit-learn>=1.3',
    'scipy>=1.10',
    'matplotlib>=3.7',
    'pyyaml>=6.0',
]

EXTRAS_REQUIRE = {
    'lite': ['mmcv-lite>=2.0.0,<2.4.0'],
    'tests': ['pytest>=8.0', 'hypothesis>=6.100', 'openmim>=0.3.9'],
}

# `mim train dm_plugin CONFIG` / `mim test` look for the configs and tools
# in the installed package's .mim folder, as for mmpretrain: dm_plugin/.mim
# holds symbolic links to configs/ and tools/, and wheels get copies.
MIM_FILES = [
    '.mim/configs/**/*.py', '.mim/tools/**/*.py', '.mim/tools/*.sh'
]

setup(
    name='dm-plugin',
    version=read_version(),
    description='Decoupled Mixup (DM) and a zoo of static and dynamic mixup '
    'policies for OpenMMLab MMPretrain',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['dm_plugin', 'dm_plugin.*']),
    package_data={'dm_plugin': MIM_FILES},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
