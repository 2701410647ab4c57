"""Check a resumed or evaluated checkpoint against the run that loads it."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, find_latest_checkpoint
from mmpretrain.registry import HOOKS

from ..checkpoint import check_shapes


def loaded_checkpoint_name(runner) -> str:
    """The file the runner loads: ``load_from`` or, for ``--resume`` without
    a file, the latest checkpoint of the work dir (mmengine's choice)."""
    return runner._load_from or find_latest_checkpoint(runner.work_dir)


def check_training_state(checkpoint, name: str) -> None:
    """Raise unless ``checkpoint`` holds a training state to resume."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if isinstance(meta, dict) and {'epoch', 'iter'} <= set(meta):
        return
    keys = ', '.join(list(map(str, checkpoint))[:3]) if isinstance(
        checkpoint, dict) else type(checkpoint).__name__
    raise ValueError(
        f"cannot resume from {name}: it has no 'meta' with the epoch and "
        f'iteration (it starts with {keys}), so it holds weights, not a '
        f'training state. To start a run from these weights use '
        f'load_from={name!r} without --resume')


@HOOKS.register_module()
class CheckpointCheckHook(Hook):
    """Fail early on a checkpoint that does not fit what the run does with
    it, naming the file.

    * ``--resume`` (``resume=True``): the checkpoint must be a training
      state (mmengine raises ``KeyError: 'meta'`` on a bare state dict);
    * resume and evaluation (``runner.test()``/``val()``, as in
      ``tools/test.py``): every weight must have the model's shape, else a
      ``ValueError`` names each key with both shapes. mmengine only warns
      and evaluates a model whose mismatched layers were never loaded.

    ``load_from`` when training (fine-tuning) keeps mmengine's warning: a new
    head there is normal. Added to every Runner by dm-plugin.
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        resuming = runner._resume
        # Training builds its loop before loading; runner.test()/val() do not.
        evaluating = not isinstance(runner._train_loop, BaseLoop)
        if not (resuming or evaluating):
            return
        name = loaded_checkpoint_name(runner)
        if resuming:
            check_training_state(checkpoint, name)
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        check_shapes(model, checkpoint, name)
