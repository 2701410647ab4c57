"""dm-plugin's checks in every Runner, however its config was written."""
import functools

from mmengine.runner import Runner

from .hooks import (CheckpointCheckHook, DatasetSplitCheckHook,
                    MixerProgressHook, NumClassesCheckHook)

# The checks cost nothing per iteration: they run before training or testing
# and when a checkpoint is loaded. MixerProgressHook drives the dynamic
# mixers' own schedules (a no-op for models without such mixers), so a
# config that does not inherit dm-plugin's runtime still trains them as
# published.
ALWAYS_ON_HOOKS = (NumClassesCheckHook, DatasetSplitCheckHook,
                   CheckpointCheckHook, MixerProgressHook)


def install_runner_checks() -> None:
    """Make ``Runner.register_hooks`` add :data:`ALWAYS_ON_HOOKS` that the
    config does not list, so that users' own configs (which need not
    inherit dm-plugin's runtime) are checked too."""
    register_hooks = Runner.register_hooks
    if getattr(register_hooks, 'adds_dm_plugin_checks', False):
        return

    @functools.wraps(register_hooks)
    def register_hooks_and_checks(self, default_hooks=None,
                                  custom_hooks=None):
        register_hooks(self, default_hooks, custom_hooks)
        for hook_type in ALWAYS_ON_HOOKS:
            if not any(isinstance(hook, hook_type) for hook in self.hooks):
                self.register_hook(hook_type())

    register_hooks_and_checks.adds_dm_plugin_checks = True
    Runner.register_hooks = register_hooks_and_checks
