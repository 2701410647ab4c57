"""Catch splits whose classes disagree, or a class without images."""
from typing import Optional, Sequence

import numpy as np
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


def split_classes(dataset) -> Optional[tuple]:
    """The class names of a dataset (``metainfo['classes']``), if any."""
    classes = getattr(dataset, 'metainfo', {}).get('classes')
    return None if classes is None else tuple(classes)


def describe(split: str, dataset) -> str:
    """``'the val split (CustomDataset at data/val)'``."""
    root = getattr(dataset, 'data_root', None) or getattr(
        dataset, 'data_prefix', {}).get('img_path')
    where = f' at {root}' if root else ''
    return f'the {split} split ({type(dataset).__name__}{where})'


def check_split(split: str,
                dataset,
                reference: Optional[Sequence[str]] = None,
                reference_name: str = '') -> None:
    """Raise unless ``dataset`` has the ``reference`` classes in the same
    order, and at least one image of each of its classes. Datasets without
    class names are not checked; counting needs ``get_gt_labels``.

    Raises:
        ValueError: naming the split and the missing, extra, reordered or
            empty classes.
    """
    classes = split_classes(dataset)
    if classes is None:
        return
    if reference is not None and classes != tuple(reference):
        missing = [c for c in reference if c not in classes]
        extra = [c for c in classes if c not in reference]
        if missing or extra:
            what = '; '.join(
                f'{label} {", ".join(map(repr, names))}'
                for label, names in (('missing', missing), ('extra', extra))
                if names)
        else:
            what = f'same classes in another order: {classes}'
        raise ValueError(
            f'{describe(split, dataset)} does not have the classes '
            f'{reference_name}: {what}. Labels are class indices, so they '
            'would mean other classes; give every split the same class '
            'folders (or the same `classes`)')
    get_gt_labels = getattr(dataset, 'get_gt_labels', None)
    if get_gt_labels is None:
        return
    labels = np.asarray(get_gt_labels()).reshape(-1)
    counts = np.bincount(labels[labels >= 0], minlength=len(classes))
    empty = [classes[i] for i in np.flatnonzero(counts[:len(classes)] == 0)]
    if empty:
        raise ValueError(
            f'{describe(split, dataset)} has no image of class '
            f'{", ".join(map(repr, empty))}: an empty class folder (or an '
            'annotation file without that class) trains or tests a class '
            'it never sees')


@HOOKS.register_module()
class DatasetSplitCheckHook(Hook):
    """Before the first iteration, check every split the runner built: the
    training set, the validation set against it, and in ``runner.test()`` /
    ``val()`` (``tools/test.py``) the evaluated set against the classes the
    checkpoint was trained on (its ``meta['dataset_meta']``). Each must have
    the same classes in the same order, and at least one image per class.

    An ImageFolder split missing a class folder (train ``a, b, c`` = 0, 1,
    2; test ``b, c`` = 0, 1) shifts every later label, and an empty class
    folder trains silently; mmpretrain reports neither. Added to every
    Runner by dm-plugin.
    """

    priority = 'HIGH'  # before NumClassesCheckHook: the more precise error

    def __init__(self):
        self.trained_classes: Optional[tuple] = None
        self.val_checked = False

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        dataset_meta = meta.get('dataset_meta') if isinstance(meta,
                                                              dict) else None
        classes = dataset_meta.get('classes') if isinstance(
            dataset_meta, dict) else None
        self.trained_classes = None if classes is None else tuple(classes)

    def before_train(self, runner) -> None:
        train = runner.train_dataloader.dataset
        check_split('train', train)
        if runner.val_loop is not None:
            check_split('val', runner.val_loop.dataloader.dataset,
                        split_classes(train), 'of the train split')
        self.val_checked = True

    def before_val(self, runner) -> None:
        if not self.val_checked:
            self.check_evaluated('val', runner.val_dataloader.dataset)
            self.val_checked = True

    def before_test(self, runner) -> None:
        self.check_evaluated('test', runner.test_dataloader.dataset)

    def check_evaluated(self, split: str, dataset) -> None:
        check_split(split, dataset, self.trained_classes,
                    'the checkpoint was trained on')
