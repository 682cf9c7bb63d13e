# TDFusion on MSRS with mmseg's DeepLabV3+ (ResNet-50) as the task, fed the
# fused Y recombined with the VIS chroma (RGB), as any mmseg model is fed.
# python tools/train.py configs/tdfusion/deeplab_msrs.py
# bash tools/dist_train.sh configs/tdfusion/deeplab_msrs.py 8
_base_ = ['./segformer_msrs.py']
model = dict(
    task=dict(
        _delete_=True,
        type='TaskAdapter',
        cfg_path='mmseg::deeplabv3plus/'
        'deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py',
        model=dict(
            # no padding (DeepLabV3+ takes any size): 240x320 as it is
            data_preprocessor=dict(size=None, size_divisor=1),
            decode_head=dict(num_classes=9),
            auxiliary_head=dict(num_classes=9)),
        input_format='rgb'))
