"""Tell the mixers how far training has come (for their own schedules)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class MixerProgressHook(Hook):
    """Before each training iteration, call ``set_train_progress(iteration,
    max_iters)`` on every mixer of the model's ``mixers`` that defines it
    (``runner.iter``, 0-based, and ``runner.max_iters``).

    AutoMix and SAMix derive their EMA momentum and mask-loss weight from it
    (the authors' per-iteration ``CosineScheduleHook`` and
    ``CustomCosineAnnealingHook``). The values are recomputed from the
    iteration each time, so a resumed run continues the schedules exactly.
    Models without mixers are left alone.
    """

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        for mixer in getattr(model, 'mixers', ()):
            set_progress = getattr(mixer, 'set_train_progress', None)
            if set_progress is not None:
                set_progress(runner.iter, runner.max_iters)
