// Package train is the training loop shared by every hier task: causal-LM pretraining (from
// scratch or continued), sequence classification and regression on the GPT-2 models of package
// gpt2, driven through libtorch by package torch.
//
// One loop, Fit, serves every task through the Task interface. It provides:
//
//   - AdamW with weight decay off for biases and LayerNorm weights (DecayGroups, HF's rule);
//   - a linear warm-up then linear decay of the learning rate (LinearSchedule, HF's
//     get_linear_schedule_with_warmup);
//   - global-norm gradient clipping (torch.nn.utils.clip_grad_norm_);
//   - gradient accumulation with exact weighting: the loss of each micro-batch is weighted by its
//     share of the examples (classification, regression) or predicted tokens (LM) of the whole
//     optimizer step, so batch 4 × accumulation 2 equals batch 8 × accumulation 1 up to float
//     rounding (the sums run in another order; measured ≤ 2e-14 apart in float64);
//   - dynamic padding per batch (Collate pads to the longest row of each batch, on the right);
//   - evaluation on a validation split every EvalEvery epochs, early stopping on a chosen metric;
//   - checkpoints every CheckpointEvery optimizer steps (and on cancellation and at the end),
//     written atomically, holding the model, the optimizer state, the schedule and the data
//     position, so that a run resumed on the same machine reproduces the losses of an
//     uninterrupted one exactly (see determinism);
//   - determinism: the shuffling order comes from Config.Seed and the epoch (PCG), and libtorch's
//     global generator is reseeded from Config.Seed and the step before every micro-batch, so the
//     same seed gives bitwise identical losses on the CPU — on the same machine, with the same
//     libtorch and the same float kernels. libtorch and OpenBLAS pick their kernels by CPU
//     (vector width, FMA; ATEN_CPU_CAPABILITY and OPENBLAS_CORETYPE override them), so another
//     CPU gives losses that agree only to float rounding, and differences grow over training;
//   - a progress bar (github.com/schollz/progressbar/v3) and log/slog logs.
//
// Memory: every tensor of a micro-batch (inputs, activations, loss) lives in a torch.Scope that is
// closed right after its backward pass; evaluation batches likewise. Fit frees everything it
// allocates (optimizer state included) before it returns; the model stays owned by the caller.
//
// Threading: Fit reseeds libtorch's global CPU (and CUDA) generator and toggles the model's
// train/eval mode, so a model must not be trained or evaluated by two goroutines at once, and
// other code drawing random numbers from the global generator during Fit changes its results.
package train
