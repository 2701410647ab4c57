"""FGVC-Aircraft (variant level) read from its official layout."""
from typing import List

from mmengine import fileio
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from dm_plugin.validation import check_choice
from .layout import check_num_classes, read_lines, require_path

NAME = 'FGVC-Aircraft'
SPLITS = ('train', 'val', 'trainval', 'test')


@DATASETS.register_module()
class FGVCAircraftDataset(BaseDataset):
    """FGVC-Aircraft at the variant level: 100 aircraft variants, 10,000
    images (Maji et al., "Fine-Grained Visual Classification of Aircraft",
    arXiv:1306.5151, 2013).

    Reads the extracted ``fgvc-aircraft-2013b.tar.gz`` as it is; nothing is
    downloaded. Layout under ``data_root``::

        data/variants.txt                    the 100 variants, one per line
        data/images_variant_<split>.txt      <image id> <variant> per line
        data/images/<image id>.jpg

    Class ``i`` is the ``i``-th line of ``variants.txt``. The paper's
    protocol trains on ``'trainval'`` (6,667 images) and tests on ``'test'``
    (3,333). Images keep the 20-pixel copyright banner at their bottom, as in
    the mixup benchmarks.

    Args:
        data_root (str): The ``fgvc-aircraft-2013b`` folder.
        split (str): ``'train'``, ``'val'``, ``'trainval'`` or ``'test'``.
            Defaults to ``'trainval'``.
        **kwargs: Other :class:`BaseDataset` arguments (``pipeline``, ...).
            ``test_mode`` defaults to ``split == 'test'``.

    Raises:
        FileNotFoundError: naming the missing file or folder.
        ValueError: on a wrong class count or an unknown variant.
    """

    NUM_CLASSES = 100

    def __init__(self, data_root: str, split: str = 'trainval', **kwargs):
        check_choice('split', split, SPLITS)
        self.split = split
        kwargs.setdefault('test_mode', split == 'test')
        super().__init__(ann_file='', data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_dir = fileio.join_path(self.data_root, 'data')
        variants_file = fileio.join_path(data_dir, 'variants.txt')
        variants = read_lines(variants_file, NAME, 'one variant per line')
        check_num_classes(variants, self.NUM_CLASSES, variants_file, NAME)
        self._metainfo['classes'] = tuple(variants)
        label_of = {variant: i for i, variant in enumerate(variants)}

        ann_file = fileio.join_path(data_dir,
                                    f'images_variant_{self.split}.txt')
        lines = read_lines(ann_file, NAME, '<image id> <variant> per line')
        folder = fileio.join_path(data_dir, 'images')
        data_list = []
        for number, line in enumerate(lines, start=1):
            image_id, _, variant = line.partition(' ')
            if variant not in label_of:
                raise ValueError(f'{NAME}: {ann_file}, line {number}: '
                                 f'variant {variant!r} is not in '
                                 f'{variants_file}')
            data_list.append(
                dict(
                    img_path=fileio.join_path(folder, f'{image_id}.jpg'),
                    gt_label=label_of[variant]))
        if data_list:
            require_path(data_list[0]['img_path'], NAME,
                         f'first image listed in {ann_file}')
        return data_list

    def extra_repr(self) -> List[str]:
        return [
            f'Root of dataset: \t{self.data_root}', f'Split: \t{self.split}'
        ]
