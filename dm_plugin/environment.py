"""What dm-plugin needs of its environment, checked when it is imported.

MMCV 2.x comes as ``mmcv`` (with compiled ops) or ``mmcv-lite`` (pure
Python, enough for dm-plugin); both install the ``mmcv`` module. pip cannot
require "one of two packages", so setup.py requires neither (a plugin must
not put mmcv-lite over an environment's mmcv) and this names what is
missing instead of an ``ImportError`` deep inside mmpretrain.
"""
import warnings

from mmengine.utils import digit_version

MMCV_RANGE = ('2.0.0', '2.4.0')  # mmpretrain 1.x's own bounds
INSTALL_HINT = (f"pip install 'mmcv-lite>={MMCV_RANGE[0]},<{MMCV_RANGE[1]}'"
                " (pure Python, enough for dm-plugin; or pip install "
                "'dm-plugin[lite]'), or mmcv with compiled ops: mim install "
                f"'mmcv>={MMCV_RANGE[0]},<{MMCV_RANGE[1]}'")


def check_mmcv() -> None:
    """Raise an ``ImportError`` with the install command unless MMCV 2.x
    (``mmcv`` or ``mmcv-lite``) in the supported range is importable."""
    try:
        import mmcv
    except ImportError as error:
        raise ImportError(f'dm-plugin needs MMCV {MMCV_RANGE[0]} <= version '
                          f'< {MMCV_RANGE[1]} and finds none: '
                          f'{INSTALL_HINT}') from error
    low, high = (digit_version(v) for v in MMCV_RANGE)
    if not low <= digit_version(mmcv.__version__) < high:
        raise ImportError(f'dm-plugin needs MMCV {MMCV_RANGE[0]} <= version '
                          f'< {MMCV_RANGE[1]}, found {mmcv.__version__}: '
                          f'{INSTALL_HINT}')


def quiet_known_warnings() -> None:
    """Hide two warnings printed at every start that ask nothing of a user:

    * mmcv-lite's, that its transformer bricks lack the compiled
      ``MultiScaleDeformableAttention`` op ("You should install mmcv rather
      than mmcv-lite"): nothing in dm-plugin or mmpretrain's classifiers
      uses it;
    * setuptools', that ``pkg_resources`` (which mmengine uses to resolve
      ``mmpretrain::`` configs) is deprecated: setup.py keeps setuptools
      below 81, the release that removed it.
    """
    warnings.filterwarnings(
        'ignore',
        message='Fail to import ``MultiScaleDeformableAttention``',
        category=UserWarning,
        module=r'mmcv\.cnn\.bricks\.transformer')
    warnings.filterwarnings(
        'ignore', message='pkg_resources is deprecated as an API',
        category=UserWarning)
