# Warm start of BDLFusion at published scale (task_gain_msrs_gpu.py): the
# released training starts from a pre-trained fusion model
# (model_ijcai_fusion_add_1.pth, not public); this trains the DRDB fusion net
# alone on BDLFusion's fusion loss (L1 + 1.1 (1 - SSIM) to the saliency
# pseudo-target) for 20 epochs of the 1083 MSRS training pairs (batch 8,
# Adam 1e-3, random flips).
_base_ = ['./bdlfusion_warmup_160x120.py']
data_root = 'data/MSRS'
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=2, persistent_workers=True, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
iters_per_epoch = 136  # 1083 pairs, batch 8
max_iters = 20 * iters_per_epoch
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
