"""dm-plugin: Decoupled Mixup and mixup policies for MMPretrain."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    scope = {}
    with open(osp.join(HERE, 'dm_plugin', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


# Tested together; mmpretrain pulls neither mmengine nor mmcv itself.
INSTALL_REQUIRES = [
    'torch==2.14.1',
    'torchvision==0.29.2',
    'mmengine==0.10.7',
    'mmcv-lite==2.2.0',
    'mmpretrain==1.2.0',
    'numpy>=1.24',
    'scikit-learn>=1.3',
    'scipy>=1.10',
    'matplotlib>=3.7',
    'pyyaml>=6.0',
]

EXTRAS_REQUIRE = {
    'tests': ['pytest>=8.0', 'hypothesis>=6.100'],
}

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
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
