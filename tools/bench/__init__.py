"""The benchmarks of /work/shared/BENCHMARKS.md, one module each, run from the repository root:

    .venv/bin/python -m tools.bench.scan        # scan throughput against PyTorch per-window; --memory: peak RSS
    .venv/bin/python -m tools.bench.ingest      # ingest memory and speed, filter attenuation
    .venv/bin/python -m tools.bench.nightly     # nightly run over the demo region, 1 and 2 Dask workers
    .venv/bin/python -m tools.bench.synth       # the simulator on one 2,500 px scene
    .venv/bin/python -m tools.bench.train       # training samples/s against PyTorch SGD
    bash tools/device_bench.sh                  # scan and train on a lent GPU machine

What they share (the benchmark scene and its files, timing and memory, the PyTorch twin) is in
``tools.bench.common``; no benchmark imports another.
"""
