"""dm_plugin/environment.py: MMCV named when missing or out of range, and
the known start-up warnings quiet."""
import importlib.util
import subprocess
import sys

import mmcv
import pytest

from dm_plugin.environment import check_mmcv


def python(code):
    return subprocess.run([sys.executable, '-W', 'default', '-c', code],
                          capture_output=True, text=True, timeout=300)


def test_missing_mmcv_names_both_packages():
    result = python("import sys; sys.modules['mmcv'] = None; "
                    'import dm_plugin')
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith('ImportError: dm-plugin needs MMCV 2.0.0')
    assert "pip install 'mmcv-lite>=2.0.0,<2.4.0'" in message
    assert "mim install 'mmcv>=2.0.0,<2.4.0'" in message


@pytest.mark.parametrize('version', ['1.7.2', '2.4.0'])
def test_mmcv_out_of_range_is_named(monkeypatch, version):
    monkeypatch.setattr(mmcv, '__version__', version)
    with pytest.raises(ImportError, match=f'found {version}'):
        check_mmcv()


def test_import_prints_no_mmcv_lite_warning():
    """With mmcv-lite (no compiled ops), importing mmpretrain's models warns
    "You should install mmcv rather than mmcv-lite"; dm_plugin does not."""
    assert 'mmcv-lite' not in python('import dm_plugin').stderr
    if importlib.util.find_spec('mmcv._ext') is None:  # mmcv-lite here
        assert 'mmcv-lite' in python('import mmpretrain.models').stderr
