"""scikit-learn's bundled handwritten digits as an mmpretrain dataset."""
from typing import List

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from dm_plugin.validation import check_choice, check_number

DIGIT_CLASSES = tuple(str(i) for i in range(10))


@DATASETS.register_module()
class DigitsDataset(BaseDataset):
    """The 1,797 8x8 grey images of handwritten digits shipped inside
    scikit-learn (UCI ML hand-written digits; Alpaydin & Kaynak, 1998), split
    into train/test by a seeded, class-stratified shuffle. Nothing is
    downloaded: it is the embedded default of the quickstart.

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        test_ratio (float): Fraction of each class held out for ``'test'``.
            Defaults to 0.2.
        split_seed (int): Seed of the split (not of training). Defaults to 0.
        **kwargs: Other :class:`BaseDataset` arguments (``pipeline``, ...).

    Each item's ``img`` is an (8, 8, 1) uint8 array scaled to 0-255.
    """

    METAINFO = {'classes': DIGIT_CLASSES}

    def __init__(self,
                 split: str = 'train',
                 test_ratio: float = 0.2,
                 split_seed: int = 0,
                 **kwargs):
        check_choice('split', split, ('train', 'test'))
        check_number('test_ratio', test_ratio, low=0., high=1.)
        self.split = split
        self.test_ratio = test_ratio
        self.split_seed = split_seed
        kwargs.setdefault('ann_file', '')
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        images = np.round(digits.images * (255. / 16.)).astype(np.uint8)
        train_idx, test_idx = train_test_split(
            np.arange(len(images)),
            test_size=self.test_ratio,
            random_state=self.split_seed,
            stratify=digits.target)
        indices = train_idx if self.split == 'train' else test_idx
        return [
            dict(img=images[i][..., None], gt_label=int(digits.target[i]))
            for i in np.sort(indices)
        ]
