"""Checks of a dataset's on-disk layout, shared by the dataset classes.

Every check raises naming the dataset, the path and what was expected there,
so a wrong ``data_root`` or an incomplete extraction fails at construction
instead of at the first batch (or never, with a silently wrong class count).
Paths go through ``mmengine.fileio``, so remote backends work as well.
"""
from typing import List, Sequence

from mmengine import fileio


def require_path(path: str, dataset: str, expected: str = '') -> str:
    """Return ``path``; raise ``FileNotFoundError`` naming it if it does not
    exist. ``expected`` describes what should be there."""
    if not fileio.exists(path):
        hint = f' ({expected})' if expected else ''
        raise FileNotFoundError(
            f'{dataset}: {path} not found{hint}; check data_root and that '
            'the dataset is extracted in its official layout')
    return path


def read_lines(path: str, dataset: str, expected: str = '') -> List[str]:
    """The non-empty lines of a text file, stripped; the file must exist."""
    require_path(path, dataset, expected)
    lines = (line.strip() for line in fileio.get_text(path).splitlines())
    return [line for line in lines if line]


def check_num_classes(classes: Sequence[str], expected: int, source: str,
                      dataset: str) -> None:
    """Raise ``ValueError`` unless ``classes`` are ``expected`` distinct
    names; ``source`` is the file or folder they were read from."""
    if len(set(classes)) != len(classes):
        raise ValueError(f'{dataset}: {source} lists duplicate classes')
    if len(classes) != expected:
        raise ValueError(f'{dataset}: {source} gives {len(classes)} classes, '
                         f'expected {expected}')


def class_folder_items(folder: str, label: int, extensions: Sequence[str],
                       dataset: str) -> List[dict]:
    """``dict(img_path, gt_label=label)`` for every image in ``folder``,
    sorted by name; raise ``ValueError`` naming the folder if it has none."""
    names = sorted(
        fileio.list_dir_or_file(folder, list_dir=False, suffix=extensions))
    if not names:
        raise ValueError(f'{dataset}: no images in {folder}')
    return [
        dict(img_path=fileio.join_path(folder, name), gt_label=label)
        for name in names
    ]
