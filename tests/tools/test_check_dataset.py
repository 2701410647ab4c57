"""tools/check_dataset.py on prepared, incomplete and missing data roots."""
import os.path as osp
import shutil
import sys

from dm_plugin.datasets import CheckedCIFAR10

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
sys.path.insert(0, osp.join(ROOT, 'tests', 'datasets'))
import check_dataset  # noqa: E402
from test_cifar import folder_to_cifar, write_tree  # noqa: E402

CIFAR_CONFIG = osp.join(ROOT, 'configs', 'cifar10', 'r18_mixup_dm_ep800.py')
FOLDER_CONFIG = osp.join(ROOT, 'configs', 'cifar10',
                         'r18_mixup_dm_ep800_folder.py')
CLASSES = list(CheckedCIFAR10.METAINFO['classes'])


def test_prepared_cifar_root_is_ready(tmp_path, capsys):
    write_tree(str(tmp_path / 'tree'), CLASSES)
    folder_to_cifar.main([str(tmp_path / 'tree'), str(tmp_path / 'data')])
    code = check_dataset.main([CIFAR_CONFIG, '--data-root',
                               str(tmp_path / 'data'), '--decode', '2'])
    printed = capsys.readouterr().out
    assert code == 0
    assert 'train: CheckedCIFAR10 (data_root ' in printed
    assert '20 samples, 10 classes, 2-2 per class' in printed
    assert 'note: the official split has 50,000 samples' in printed
    assert printed.count('loaded, inputs (3, 32, 32)') == 4
    assert 'OK: the data of' in printed


def test_missing_class_folder_in_a_split_is_a_problem(tmp_path, capsys):
    """ImageFolder splits with different class folders would shift every
    later label (train a,b,c = 0,1,2; test b,c = 0,1)."""
    write_tree(str(tmp_path / 'tree'), CLASSES)
    shutil.rmtree(tmp_path / 'tree' / 'test' / 'bird')
    code = check_dataset.main([FOLDER_CONFIG, '--data-root',
                               str(tmp_path / 'tree'), '--decode', '0'])
    printed = capsys.readouterr().out
    assert code == 1
    assert 'val and train have different classes or class orders (9 vs 10' \
        in printed


def test_missing_root_names_the_file(tmp_path, capsys):
    code = check_dataset.main([CIFAR_CONFIG, '--data-root',
                               str(tmp_path / 'nothing')])
    printed = capsys.readouterr().out
    assert code == 1
    assert osp.join(str(tmp_path / 'nothing'), 'cifar-10-batches-py',
                    'batches.meta') + ' not found' in printed
    assert '2 problem(s)' in printed
