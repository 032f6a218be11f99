# RBONN's optimizer wrapper (previous-gradient hand-off for the recurrent step) and
# parameter groups. As in the released code, u has its own group at 0.1x the lr; it
# gets no weight decay (the released recipe decays nothing: Adam, weight decay 0).
# Every other parameter, the scale s included (the released code keeps it in the
# weight group), takes the optimizer's own weight decay, as the family's SGD
# detection recipe (IDa-Det: 1e-4 on every parameter). Detector configs override
# only `optimizer`.
custom_imports = dict(imports=['rbonn_det.registry'], allow_failed_imports=False)

optim_wrapper = dict(
    type='RBOOptimWrapper',
    constructor='RBOOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(rbo_u_lr_mult=0.1, rbo_u_decay_mult=0.0))

# For every detector, baselines included (docs/reliability.md): a NaN/Inf loss skips
# the update (the optimizer wrapper does that) and 5 in a row stop the run;
# --resume continues the random streams where the checkpoint left them.
reliability_hooks = [dict(type='NonFiniteLossHook', max_consecutive=5),
                     dict(type='RNGStateHook')]
# plus mean alpha, mean u, DReLU backtracked fraction and the bilinear term in the log
custom_hooks = [dict(type='RBOStatsHook')] + reliability_hooks
