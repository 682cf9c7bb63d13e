# tardal.pt as VIF-Benchmark runs it (its TarDAL.py: Eval(eval=True) for
# every checkpoint): BatchNorm with the stored running statistics. Those of
# tardal.pt were never updated by training (num_batches_tracked = 0, running
# variances up to 2.5e5): the fused images are much darker than with the
# per-image statistics the authors use (tardal_official_msrs.py). For
# comparison with tables made with that benchmark; reproduces its outputs
# (reference/tardal/fused/tardal) within one grey level.
_base_ = ['./tardal_official_msrs.py']

model = dict(fusion_net=dict(bn_mode='running'))
