"""Self-Tuning: cross-entropy on labeled data plus pseudo-group contrastive
learning (PGC) of labeled and pseudo-labeled unlabeled data against a
class-wise queue of momentum-encoder keys.

Wang et al., "Self-Tuning for Data-Efficient Deep Learning", ICML 2021; the
implementation the DM paper builds on is OpenMixup's
``openmixup/models/semisup/self_tuning.py`` with its
``configs/semisup/selftuning/`` configs.
"""
import math
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.datasets.semi_supervised import split_semi_supervised_batch
from dm_plugin.validation import check_int, check_number
from .fixmatch import (check_semi_supervised_model, gt_labels,
                       unlabeled_statistics)
from .semi_ema import (copy_features, frozen_copy, load_copies,
                       momentum_update)


def pgc_loss(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor,
             labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Self-Tuning's pseudo-group contrastive loss.

    Each query's logits are its similarity to its own key and to every key
    in the queue, over ``temperature``; its positives are its own key and
    the ``Q`` queued keys of its (pseudo-)class. The loss is the KL
    divergence from the uniform distribution over those ``Q + 1`` positives
    to the softmax of the logits, averaged over the batch (``KLDivLoss
    (reduction='batchmean')``).

    Args:
        query, key (Tensor): (N, D) L2-normalised embeddings.
        queue (Tensor): (C, Q, D) L2-normalised keys, ``Q`` per class.
        labels (Tensor): (N,) classes of the queries.
        temperature (float): Softmax temperature.

    Returns:
        Tensor: scalar loss.
    """
    num_classes, queue_size, dim = queue.shape
    query, key = query.float(), key.float()
    own_key = (query * key).sum(dim=-1, keepdim=True)
    queued = query @ queue.reshape(-1, dim).float().t()
    log_prob = (torch.cat([own_key, queued], dim=1) /
                temperature).log_softmax(dim=-1)
    by_class = log_prob[:, 1:].view(-1, num_classes, queue_size)
    same_class = by_class.gather(
        1, labels.view(-1, 1, 1).expand(-1, 1, queue_size)).squeeze(1)
    positives = torch.cat([log_prob[:, :1], same_class], dim=1)
    return (-math.log(queue_size + 1) - positives.mean(dim=-1)).mean()


@torch.no_grad()
def enqueue_by_class(queue: torch.Tensor, pointer: torch.Tensor,
                     keys: torch.Tensor, labels: torch.Tensor) -> None:
    """Write each key into its class's ring buffer, as Self-Tuning's loop
    over the batch does, without a host sync.

    Key ``i`` of class ``c`` goes to slot ``(pointer[c] + r_i) % Q`` where
    ``r_i`` counts the earlier keys of class ``c`` in the batch; where
    several keys of a class land on one slot (more than ``Q`` of them) the
    last one stays. Then ``pointer[c]`` advances by the class's count.

    Args:
        queue (Tensor): (C, Q, D) queue, updated in place.
        pointer (Tensor): (C,) long next slot of each class, updated.
        keys (Tensor): (N, D) keys.
        labels (Tensor): (N,) their classes.
    """
    slot, source, count = queue_writes(pointer, labels, queue.size(1))
    queue[labels, slot] = keys[source].to(queue.dtype)
    pointer.copy_((pointer + count) % queue.size(1))


def queue_writes(pointer: torch.Tensor, labels: torch.Tensor,
                 queue_size: int) -> tuple:
    """Where :func:`enqueue_by_class` writes: (N,) slot of each key in its
    class's ring buffer, (N,) index of the key whose value it writes there
    (the last key of the batch bound for that slot, so that repeated slots
    carry equal values and the order of the writes is moot) and (C,) keys
    per class."""
    num_classes, num = pointer.numel(), labels.numel()
    one_hot = F.one_hot(labels, num_classes)
    rank = one_hot.cumsum(dim=0).gather(1, labels[:, None]).squeeze(1) - 1
    count = one_hot.sum(dim=0)
    last_rank = rank + queue_size * torch.div(
        count[labels] - 1 - rank, queue_size, rounding_mode='floor')
    by_class_rank = labels.new_empty(num_classes * num)
    by_class_rank[labels * num + rank] = torch.arange(
        num, device=labels.device)
    source = by_class_rank[labels * num + last_rank]
    return (pointer[labels] + rank) % queue_size, source, count


@MODELS.register_module()
class SelfTuning(ImageClassifier):
    """Self-Tuning, as OpenMixup trains it.

    Paper: Wang et al., "Self-Tuning for Data-Efficient Deep Learning",
    ICML 2021.

    A batch (:class:`SemiSupervisedDataset` with ``labeled_views=2``, ``mu``
    unlabeled samples per item, the same pipeline for every view) holds two
    views (query, key) of ``B`` labeled and of ``U`` unlabeled images. The
    losses:

    * ``loss_cls``: cross-entropy of the labeled query views;
    * ``loss_pgc_l``: :func:`pgc_loss` of the labeled queries (backbone,
      neck, ``projector``, L2-normalised) against the momentum encoder's
      keys of the key views and the class queue, with the true labels;
    * ``loss_pgc_u``: the same for the unlabeled images, with the model's
      current argmax predictions of the query views as pseudo-labels (no
      confidence threshold).

    After each PGC term its keys are queued (:func:`enqueue_by_class`), so
    the unlabeled term sees the labeled keys of the same step. The momentum
    encoder (a copy of backbone, neck and projector) takes one EMA step of
    the parameters before computing each group of keys (twice per
    iteration); it runs in training mode with batch-norm statistics of its
    own. Prediction uses the online network. ``pseudo_acc`` logs the
    accuracy of the pseudo-labels when the unlabeled labels are known.

    Args:
        backbone, neck, head (dict): The classification network
            (e.g. ResNet-50 with ImageNet weights via the backbone's
            ``init_cfg``, ``GlobalAveragePooling``, ``LinearClsHead``).
        projector (dict): Neck from the neck's output to the embedding, e.g.
            ``dict(type='MoCoV2Neck', in_channels=2048, hid_channels=2048,
            out_channels=1024, with_avg_pool=False)``; its last linear
            layer's width is the embedding size.
        queue_size (int): Keys kept per class. Defaults to 32.
        temperature (float): PGC temperature. Defaults to 0.07.
        momentum (float): Momentum of the key encoder. Defaults to 0.999.
        pretrained, train_cfg, data_preprocessor, init_cfg: As in
            :class:`ImageClassifier`.

    Shapes:
        inputs (2B + 2U, C, H, W); ``data_samples`` the B labeled samples.
    """

    labeled_views = 2

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 projector: Optional[dict] = None,
                 queue_size: int = 32,
                 temperature: float = 0.07,
                 momentum: float = 0.999,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        name = type(self).__name__
        if not isinstance(projector, dict):
            raise TypeError(f'{name} needs a projector config (a neck, e.g. '
                            f"MoCoV2Neck), got {projector!r}")
        check_int('queue_size', queue_size, 1)
        check_number('temperature', temperature, low=0.)
        check_number('momentum', momentum, low=0., high=1.,
                     low_inclusive=True)
        super().__init__(backbone, neck, head, pretrained, train_cfg,
                         data_preprocessor, init_cfg)
        check_semi_supervised_model(self, train_cfg)
        self.projector = MODELS.build(projector)
        linears = [m for m in self.projector.modules()
                   if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError('the projector has no nn.Linear layer to take '
                             'the embedding size from')
        self.queue_size = queue_size
        self.temperature = float(temperature)
        self.momentum = float(momentum)
        self.key_encoder = frozen_copy(self.encoder_parts())
        queue = torch.randn(self.head.num_classes, queue_size,
                            linears[-1].out_features)
        self.register_buffer('queue', F.normalize(queue, dim=-1))
        self.register_buffer(
            'queue_pointer', torch.zeros(self.head.num_classes,
                                         dtype=torch.long))

    def encoder_parts(self) -> Dict[str, Optional[nn.Module]]:
        """The query encoder: backbone, neck, projector."""
        return dict(
            backbone=self.backbone,
            neck=getattr(self, 'neck', None),
            projector=self.projector)

    def init_weights(self):
        """Initialise the network, then start the key encoder from it."""
        super().init_weights()
        load_copies(self.key_encoder, self.encoder_parts())

    def embed(self, feats: tuple) -> torch.Tensor:
        """(N, D) normalised query embedding of the neck's features."""
        return F.normalize(self.projector(feats)[-1], dim=-1)

    @torch.no_grad()
    def keys(self, inputs: torch.Tensor) -> torch.Tensor:
        """One momentum step of the key encoder, then the (N, D)
        normalised keys of ``inputs``."""
        momentum_update(self.key_encoder, self.encoder_parts(), self.momentum)
        feats = copy_features(self.key_encoder, inputs)
        return F.normalize(self.key_encoder['projector'](feats)[-1], dim=-1)

    def contrastive_loss(self, query_feats: tuple, key_inputs: torch.Tensor,
                         labels: torch.Tensor) -> torch.Tensor:
        """PGC loss of one group of queries, then queue its keys."""
        query = self.embed(query_feats)
        keys = self.keys(key_inputs)
        # A copy: enqueueing changes the queue that the loss's graph holds.
        loss = pgc_loss(query, keys, self.queue.clone(), labels,
                        self.temperature)
        enqueue_by_class(self.queue, self.queue_pointer, keys, labels)
        return loss

    def self_tuning_losses(self, inputs: torch.Tensor,
                           data_samples: List[DataSample]) -> tuple:
        """Self-Tuning's losses, and what DMixTuning mixes: the labeled
        query views, their labels, the unlabeled query views and their
        pseudo-labels."""
        (labeled, labeled_keys), unlabeled, unlabeled_keys = \
            split_semi_supervised_batch(inputs, len(data_samples),
                                        self.labeled_views)
        labels = gt_labels(data_samples, inputs.device)
        labeled_feats = self.extract_feat(labeled)
        losses = dict(loss_pgc_l=self.contrastive_loss(
            labeled_feats, labeled_keys, labels))
        losses['loss_cls'] = F.cross_entropy(
            self.head(labeled_feats).float(), labels)
        unlabeled_feats = self.extract_feat(unlabeled)
        with torch.no_grad():
            pseudo = self.head(unlabeled_feats).argmax(dim=-1)
        losses['loss_pgc_u'] = self.contrastive_loss(
            unlabeled_feats, unlabeled_keys, pseudo)
        stats = unlabeled_statistics(data_samples, pseudo,
                                     torch.ones_like(pseudo))
        stats.pop('mask_ratio')  # no threshold: every pseudo-label is used
        losses.update(stats)
        return losses, (labeled, labels, unlabeled, pseudo)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Self-Tuning's losses and pseudo-label accuracy."""
        return self.self_tuning_losses(inputs, data_samples)[0]
