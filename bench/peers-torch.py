"""PyTorch's torch.optim beside simd-optim: the benchmark's "torch" peer rows (bench/peers.mjs).

Reads one JSON job from stdin and writes one JSON object per line to stdout, so the caller can
log progress while it runs and keep what was measured if it has to stop the script:

  {"mode": "bench", "tables": [...], "sizes": [...], "samples": 5}
      -> {"event": "ready", "torch": "2.x", "threads": 2}, then for each configuration
         {"event": "start", ...} and {"event": "row", "table", "elements", "threads", "samples"}
         (ns per element), or {"event": "skip", "table", "reason"}
  {"mode": "step", "tables": ["Adam", ...], "param": [...], "grad": [...], "steps": 1}
      -> {"event": "step", "table", "param": [...]} for each table: the parameter after the steps
         (the tests' sanity check; one process for all, as importing torch takes seconds)

Without torch it writes {"event": "no-torch", "error": ...} and exits with status 3.
"""
import json
import math
import sys
import time
import warnings

# torch warns on import when numpy is absent; the bench needs no numpy, and the warning is noise.
warnings.filterwarnings("ignore", message=".*NumPy.*")

try:
    import torch
except Exception as error:  # ImportError, or a broken install
    print(json.dumps({"event": "no-torch", "error": f"{type(error).__name__}: {error}"}), flush=True)
    sys.exit(3)

optim = torch.optim

# The configurations of simd-optim's bench (PyTorch defaults otherwise). foreach=False is the
# default for CPU tensors anyway (foreach defaults on only for CUDA); said explicitly so a torch
# release that changes the default does not change the row. fused stays at its default (off).
CONFIGURATIONS = {
    "Adam": lambda p: optim.Adam([p], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, foreach=False),
    "AdamW": lambda p: optim.AdamW([p], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, foreach=False),
    "Adagrad": lambda p: optim.Adagrad([p], lr=1e-2, foreach=False),
    "RMSprop": lambda p: optim.RMSprop([p], lr=1e-2, alpha=0.99, eps=1e-8, foreach=False),
    "SGD momentum": lambda p: optim.SGD([p], lr=0.01, momentum=0.9, foreach=False),
    "Adadelta": lambda p: optim.Adadelta([p], lr=1.0, rho=0.9, eps=1e-6, foreach=False),
    "Adamax": lambda p: optim.Adamax([p], lr=2e-3, foreach=False),
    "NAdam": lambda p: optim.NAdam([p], lr=2e-3, foreach=False),
    "RAdam": lambda p: optim.RAdam([p], lr=1e-3, foreach=False),
}

MIN_BATCH_NS = 10_000_000
MAX_ITERATIONS = 1 << 22


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def calibrate(fn):
    """Calls per batch so that a batch lasts at least 10 ms, as calibrate() in lib/bench/measure.ts.

    Its second warm-up call is timed: a step that lasts a batch on its own needs no more calls to
    learn that a batch is that one call (at 16M elements, a tenth of a second per table)."""
    fn()
    start = time.perf_counter_ns()
    fn()
    if time.perf_counter_ns() - start >= MIN_BATCH_NS:
        return 1
    iterations = 1
    while True:
        start = time.perf_counter_ns()
        for _ in range(iterations):
            fn()
        elapsed = time.perf_counter_ns() - start
        if elapsed >= MIN_BATCH_NS or iterations >= MAX_ITERATIONS:
            return iterations
        iterations = min(MAX_ITERATIONS, math.ceil(iterations * MIN_BATCH_NS * 1.2 / max(elapsed, 1000)))


def sample_once(fn, elements, iterations, batches=3):
    """ns per element of the fastest of `batches` batches, as sampleOnce() in lib/bench/measure.ts."""
    best = math.inf
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / (iterations * elements))
    return best


def bench(job):
    threads = torch.get_num_threads()
    emit("ready", torch=torch.__version__, threads=threads)
    generator = torch.Generator().manual_seed(1)
    # Values like the package's bench (params in [-1, 1), gradients in [-0.1, 0.1)), drawn once
    # per size and copied for each table: drawing 16M twice takes a tenth of a second.
    inputs = {n: (torch.rand(n, generator=generator) * 2 - 1, (torch.rand(n, generator=generator) * 2 - 1) * 0.1) for n in job["sizes"]}
    for table in job["tables"]:
        if table not in CONFIGURATIONS:
            emit("skip", table=table, reason=f"torch.optim has no {table}")
            continue
        for n in job["sizes"]:
            emit("start", table=table, elements=n)
            param = torch.nn.Parameter(inputs[n][0].clone())
            param.grad = inputs[n][1].clone()
            optimizer = CONFIGURATIONS[table](param)
            iterations = calibrate(optimizer.step)
            samples = [sample_once(optimizer.step, n, iterations) for _ in range(job["samples"])]
            emit("row", table=table, elements=n, threads=threads, samples=samples)
            del optimizer, param


def step(job):
    for table in job["tables"]:
        param = torch.nn.Parameter(torch.tensor(job["param"], dtype=torch.float32))
        param.grad = torch.tensor(job["grad"], dtype=torch.float32)
        optimizer = CONFIGURATIONS[table](param)
        for _ in range(job.get("steps", 1)):
            optimizer.step()
        emit("step", table=table, param=param.detach().tolist())


def main():
    job = json.load(sys.stdin)
    if job["mode"] == "bench":
        bench(job)
    elif job["mode"] == "step":
        step(job)
    else:
        raise ValueError(f"unknown mode {job['mode']!r}")


if __name__ == "__main__":
    main()
