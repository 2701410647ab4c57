"""A CheckpointHook whose saves survive being killed half-way."""
import os
import os.path as osp
from contextlib import contextmanager

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS

PARTIAL_SUFFIX = '.partial'


def fsync_path(path: str) -> None:
    """Flush a file's (or directory's) data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def removing_partial_on_error(partial: str, final: str):
    """Delete ``partial`` when saving ``final`` fails (a full disk must not
    stay full of a file nobody can use); an ``OSError`` is raised again
    naming ``final``, which ``write`` and ``fsync`` errors do not."""
    try:
        yield
    except Exception as error:
        if osp.exists(partial):
            os.remove(partial)
        if isinstance(error, OSError):
            raise OSError(
                error.errno, f'{error.strerror or error}: cannot save {final} '
                f'(removed {partial})') from error
        raise


def replace_atomically(partial: str, final: str) -> None:
    """Move a fully written ``partial`` file onto ``final`` in one step."""
    fsync_path(partial)
    os.replace(partial, final)
    fsync_path(osp.dirname(osp.abspath(final)))


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new
    content, never a cut-off one."""
    partial = path + PARTIAL_SUFFIX
    with removing_partial_on_error(partial, path):
        with open(partial, 'w') as f:
            f.write(text)
        replace_atomically(partial, path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` that saves atomically.

    mmengine's hook deletes the oldest checkpoint *before* writing the new
    one (with ``max_keep_ckpts``) and writes both the checkpoint and the
    ``last_checkpoint`` pointer in place, so a process killed while saving
    can leave a truncated checkpoint, no intact one, or an empty pointer, and
    ``--resume`` then fails. Here the checkpoint is written to
    ``<name>.partial``, flushed to disk and renamed onto ``<name>``; then
    ``last_checkpoint`` is replaced the same way; only then are checkpoints
    beyond ``max_keep_ckpts`` deleted. A kill at any point leaves the
    previous checkpoint and a pointer to an intact file.

    Takes the arguments of ``CheckpointHook``. Saving to a remote backend
    (``backend_args`` / a non-local ``out_dir``), where a rename is not
    atomic, falls back to mmengine's behaviour. ``save_best`` checkpoints
    are written by mmengine's code.
    """

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict):
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        stale_step = self._track_kept_step(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        if not is_main_process():  # mmengine saves on rank 0 only
            return
        partial = self.last_ckpt + PARTIAL_SUFFIX
        with removing_partial_on_error(partial, self.last_ckpt):
            runner.save_checkpoint(
                self.out_dir,
                filename + PARTIAL_SUFFIX,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
            replace_atomically(partial, self.last_ckpt)
        write_text_atomically(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if stale_step is not None:
            stale = self.filename_tmpl.format(stale_step)
            if osp.isfile(osp.join(self.out_dir, stale)):
                os.remove(osp.join(self.out_dir, stale))

    def _track_kept_step(self, runner, step: int):
        """Record ``step`` among the kept checkpoints (``max_keep_ckpts``);
        returns the step whose checkpoint falls out, or ``None``."""
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids
                                        and self.keep_ckpt_ids[-1] == step):
            return None
        stale_step = None
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            stale_step = self.keep_ckpt_ids.popleft()
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return stale_step
