"""Catch a head whose num_classes disagrees with the data, before training."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Before the first iteration, compare the number of classes of the
    training set (``metainfo['classes']``) with ``model.head.num_classes``
    and the data preprocessor's ``num_classes``.

    A head with more classes than the data trains without any error (the
    extra logits are just never targets) and one with fewer fails only once
    a batch holds a large label; this names both numbers up front. Datasets
    without ``classes`` in their metainfo are not checked.

    Raises:
        ValueError: when a ``num_classes`` differs from the dataset's.
    """

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        classes = getattr(dataset, 'metainfo', {}).get('classes')
        if classes is None:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        owners = (('model.head', getattr(model, 'head', None)),
                  ('model.data_preprocessor',
                   getattr(model, 'data_preprocessor', None)))
        for name, owner in owners:
            num_classes = getattr(owner, 'num_classes', None)
            if num_classes is not None and num_classes != len(classes):
                raise ValueError(
                    f'{name}.num_classes is {num_classes} but the training '
                    f'set {type(dataset).__name__} has {len(classes)} '
                    f'classes; set {name}.num_classes={len(classes)}')
