"""Titles of tools/visualize_mixers.py's per-mixer grids."""
import os.path as osp
import sys

from dm_plugin.registry import MIXERS, build_mixer

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import visualize_mixers  # noqa: E402


def test_titles_are_the_mixers_settings_wrapped():
    """A dynamic mixer's repr prints its whole network (AutoMix: the Mix
    Block and an encoder copy); the title holds its settings only, in lines
    short enough for the figure (PuzzleMix's one line was cut off)."""
    for name in MIXERS.module_dict:
        mixer = build_mixer(dict(
            type=name, **visualize_mixers.RESNET18_CIFAR_ARGS.get(name, {})))
        title = visualize_mixers.mixer_title(name, mixer)
        assert title.startswith(f'{name}(') and title.endswith(')')
        assert ' '.join(title.split()) == ' '.join(
            f'{name}({mixer.extra_repr()})'.split())
        assert all(len(line) <= 72 for line in title.splitlines())
        assert 'Conv2d' not in title, name
