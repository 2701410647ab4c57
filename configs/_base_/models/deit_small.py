# DeiT-Small (ViT-S/16; Touvron et al., ICML 2021) for 224x224 inputs, drop
# path 0.1 as in DeiT. The class token feeds the linear head. Configs set
# head.num_classes, the head's loss and the mixers.
model = dict(
    type='MixupClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='DMClsHead',
        in_channels=384,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02)),
    init_cfg=[
        dict(type='TruncNormal', layer='Linear', std=.02),
        dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
    ],
)
