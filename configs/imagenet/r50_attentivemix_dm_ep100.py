# ImageNet-1k, ResNet-50, 100 epochs, batch 4x64:
# AttentiveMix+ (alpha 2) + DM(CE) (eta 0.1). See docs/configs.md
# AttentiveMix+ as OpenMixup runs it for its ImageNet benchmark rows
# (configs/classification/imagenet/mixups/basic/r50_attentivemix_CE_none_4xb64.py):
# attention from a frozen ImageNet ResNet-18 on the inputs resized to
# 224, the channel mean of its last (7x7) feature map; the top floor(49 u)
# cells, at least 1, with u ~ Beta(2, 2) (their grid_size and beta arguments
# are not read by their code). Weights: torchvision's ImageNet ResNet-18
# (IMAGENET1K_V1) as a local file: torchvision.models.resnet18(
# weights='IMAGENET1K_V1') saves it in ~/.cache/torch/hub/checkpoints/;
# copy it to checkpoints/ or set model.mixer.attention_checkpoint.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(
        type='AttentiveMix',
        alpha=2.0,
        grid_size=None,
        top_k=None,
        attention_net=dict(type='ResNet', depth=18),
        attention_checkpoint='checkpoints/resnet18-f37072fd.pth'),
    head=dict(num_classes=1000, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
