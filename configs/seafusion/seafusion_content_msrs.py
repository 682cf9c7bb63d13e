# SeAFusion's fusion net trained on its content loss alone (round r = 0 of the
# joint adaptive schedule: no semantic loss), on full MSRS at data/MSRS.
_base_ = [
    '../_base_/models/seafusion.py', '../_base_/datasets/msrs.py',
    '../_base_/schedules/seafusion_10e.py', '../_base_/default_runtime.py'
]
