# Warm start of BDLFusion at 320 x 240 (task_gain_msrs_mini_cpu320.py): as
# bdlfusion_warmup_160x120.py (the DRDB fusion net alone on L1 + 1.1 (1 -
# SSIM) to the saliency pseudo-target, Adam 1e-3, batch 4, random flips), on
# the 320 x 240 copy of msrs_mini, 1 epoch (the 160 x 120 warm-up: 2).
_base_ = ['./bdlfusion_warmup_160x120.py']
data_root = 'work_dirs/task_gain/msrs_mini_cpu320/data/msrs_mini_320x240'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
max_iters = 1 * 41  # 161 pairs, batch 4
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
