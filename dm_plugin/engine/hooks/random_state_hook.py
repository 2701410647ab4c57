"""Save the random generators with each checkpoint for an exact resume."""
import logging
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmpretrain.registry import HOOKS

CHECKPOINT_KEY = 'rng_state'


def get_random_state() -> dict:
    """This process's python, numpy and torch (CPU and current CUDA device)
    generator states. Every entry loads with the weights-only
    :func:`~dm_plugin.engine.checkpoint.load_checkpoint_file`: uint8
    tensors, tuples of ints/floats, a numeric numpy array."""
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_random_state(state: dict) -> None:
    """Restore what :func:`get_random_state` returned."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'])


class RestoreBeforeFetch:
    """Wraps the iterator of :class:`IterBasedTrainLoop`: restores the random
    state right before batch ``skip`` is fetched, i.e. after the loop has
    replayed the ``skip`` batches a resumed run already trained on (the data
    pipeline's random transforms draw from the same generators)."""

    def __init__(self, loop, skip: int, state: dict):
        self.loop = loop
        self.iterator = loop.dataloader_iterator
        self.skip = skip
        self.state = state

    def __iter__(self):
        return self

    def __next__(self):
        if self.skip == 0:
            set_random_state(self.state)
            self.loop.dataloader_iterator = self.iterator
            return next(self.iterator)
        self.skip -= 1
        return next(self.iterator)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make ``--resume`` continue exactly like an uninterrupted run.

    mmengine checkpoints hold weights, optimizer, schedulers and the message
    hub, but not the random generators; the sampler's order is rebuilt from
    ``seed + epoch``, but λ, partners and boxes of the mixers (torch's
    generator), the mixer choice of :class:`MixupClassifier` (numpy's) and
    random data transforms (numpy's / python's) continue from a reseeded
    state. This hook

    * stores the python, numpy, torch and CUDA generator states under
      ``checkpoint['rng_state']``;
    * on resume, restores them at the point where the uninterrupted run
      continued: before the first new batch is fetched
      (:class:`IterBasedTrainLoop`, after mmengine replays the batches
      already trained on) or before the first new epoch
      (:class:`EpochBasedTrainLoop`);
    * leaves the generators untouched by validation (restores them after
      it), so that a resumed run, which does not repeat the validation at the
      checkpoint, draws the same numbers, and so that the validation
      interval does not change training.

    With a fixed seed and deterministic kernels on CPU, a resumed run then
    reproduces the losses and weights of an uninterrupted one. Loading with
    ``load_from`` (fine-tuning) restores nothing.

    In distributed training the checkpoint holds rank 0's states (gathering
    every rank's would add a collective to each save, which fails the save
    when another rank has just crashed) and every rank restores them. That
    is exact with mmengine's default ``randomness.diff_rank_seed=False``,
    where all ranks draw the same numbers; with ``diff_rank_seed=True`` the
    other ranks keep the fresh seeds they started with.
    """

    priority = 'LOWEST'

    def __init__(self):
        self.loaded: Optional[dict] = None
        self.before_val_state: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = get_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loaded = checkpoint

    def before_train(self, runner) -> None:
        checkpoint, self.loaded = self.loaded, None
        if checkpoint is None or not self._is_resume_of(runner, checkpoint):
            return
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            print_log(
                'the resumed checkpoint holds no random state (saved without '
                'RandomStateHook): the resumed run draws different random '
                'numbers than an uninterrupted run would',
                logger='current',
                level=logging.WARNING)
            return
        if get_rank() != 0 and runner.cfg.get('randomness', {}).get(
                'diff_rank_seed', False):
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = RestoreBeforeFetch(
                loop, runner.iter, state)
            return
        if isinstance(loop, EpochBasedTrainLoop) and \
                runner.iter != runner.epoch * len(loop.dataloader):
            print_log(
                f'resuming epoch-based training from a mid-epoch checkpoint '
                f'(iteration {runner.iter}): mmengine restarts epoch '
                f'{runner.epoch + 1} from its first batch, so the run does '
                'not continue exactly; save checkpoints by epoch or train '
                'with IterBasedTrainLoop',
                logger='current',
                level=logging.WARNING)
        set_random_state(state)

    def before_val(self, runner) -> None:
        self.before_val_state = get_random_state()

    def after_val(self, runner) -> None:
        if self.before_val_state is not None:
            set_random_state(self.before_val_state)
            self.before_val_state = None

    @staticmethod
    def _is_resume_of(runner, checkpoint: dict) -> bool:
        """Whether the runner resumed from ``checkpoint`` (rather than
        initialising from it with ``load_from``)."""
        meta = checkpoint.get('meta', {})
        return (meta.get('iter') == runner.iter
                and meta.get('epoch') == runner.epoch)
