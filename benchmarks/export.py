"""Images per second of an exported model: onnxruntime vs PyTorch eager vs TorchScript, on CPU.

Three cases, one stable line each:

    export_speed case=sample-b1   model=mnist-cgan ... eager_ips=... torchscript_ips=... onnxruntime_ips=...
    export_speed case=sample-b256 model=mnist-cgan ...
    export_speed case=sr-512      model=photos-srresnet-x2 ...  (one 512x512 image -> 1024x1024)

The models are the presets' generators (mnist-cgan: conditional DCGAN 28x28; photos-srresnet-x2:
SRResNet, 8 blocks of 48 channels), seeded and untrained (weights do not change the speed),
written as a generator.pt and exported by `ganforge export` itself (ONNX opset 17 and
TorchScript). Each runtime gets the same inputs and the same thread count (--threads, default 1:
steady under a shared machine's load); a figure is the median of --repeats timed calls after 3
warm-up calls (SR: 1 warm-up, at most 3 timed calls). The three runtimes' outputs are checked
to agree (max abs <= 1e-4) before timing.

    python benchmarks/export.py [--threads 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _generator_file(preset: str, folder: Path, sample_shape: list[int], classes: int) -> Path:
    """A generator.pt of the preset's (untrained, seeded) generator, as training writes it."""
    from ganforge.families import make_family
    from ganforge.run import build_config
    from ganforge.training.checkpoint import FORMAT_VERSION, GENERATOR_FORMAT, atomic_save

    config, _ = build_config(preset=preset)
    config.model.sample_shape = sample_shape
    config.model.num_classes = classes
    config.model.class_names = [str(i) for i in range(classes)]
    torch.manual_seed(0)
    generator, _ = make_family(config).build()
    path = folder / preset / "generator.pt"
    path.parent.mkdir(parents=True)
    state = {"format": GENERATOR_FORMAT, "format_version": FORMAT_VERSION}
    state.update(config=config.to_dict(), step=0, state_dict=generator.state_dict())
    atomic_save(state, path)
    return path


def _rate(call, images: int, repeats: int, warmup: int = 3) -> float:
    """Images per second: the median of `repeats` timed calls after `warmup` calls (TorchScript's
    profiling executor optimises the graph over its first calls)."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return images / statistics.median(times)


def _case(name, model_name, path, feeds, images, threads, repeats) -> str:
    import onnxruntime as ort

    from ganforge.apps.export import export_model
    from ganforge.sampling import load_generator

    onnx_file = export_model(path, path.parent / "model.onnx").path
    ts_file = export_model(path, path.parent / "model.pt").path
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    scripted = torch.jit.load(str(ts_file))  # written just now by export_model
    module = load_generator(path).module
    tensors = [torch.from_numpy(x) for x in feeds.values()]
    if name.startswith("sr"):

        def eager():
            return module(*tensors).clamp(-1, 1)

    else:

        def eager():
            return module(*tensors)

    with torch.inference_mode():
        want = eager().numpy()
        diff_ts = float(np.abs(scripted(*tensors).numpy() - want).max())
    diff_ort = float(np.abs(session.run(None, feeds)[0] - want).max())
    assert max(diff_ts, diff_ort) <= 1e-4, (name, diff_ts, diff_ort)
    rates = {}
    warmup = 1 if name.startswith("sr") else 3  # a 512x512 pass takes seconds: one warms up
    with torch.inference_mode():
        rates["eager"] = _rate(eager, images, repeats, warmup)
        rates["torchscript"] = _rate(lambda: scripted(*tensors), images, repeats, warmup)
    rates["onnxruntime"] = _rate(lambda: session.run(None, feeds), images, repeats, warmup)
    shape = "x".join(str(s) for s in next(iter(feeds.values())).shape)
    return (
        f"export_speed case={name} model={model_name} input={shape} threads={threads} "
        f"repeats={repeats} "
        + " ".join(f"{k}_ips={v:.4g}" for k, v in rates.items())
        + f" ort_vs_eager={rates['onnxruntime'] / rates['eager']:.2f}x"
        f" max_abs_diff={max(diff_ts, diff_ort):.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads per runtime (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per figure (default 5)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cgan = _generator_file("mnist-cgan", folder, [1, 28, 28], 10)
        for batch in (1, 256):
            feeds = {
                "noise": rng.standard_normal((batch, 64)).astype(np.float32),
                "labels": (np.arange(batch) % 10).astype(np.int64),
            }
            line = _case(
                f"sample-b{batch}", "mnist-cgan", cgan, feeds, batch, args.threads, args.repeats
            )
            print(line, flush=True)
        sr = _generator_file("photos-srresnet-x2", folder, [3, 48, 48], 0)
        feeds = {"image": rng.uniform(-1, 1, (1, 3, 512, 512)).astype(np.float32)}
        sr_repeats = min(args.repeats, 3)  # seconds per pass: the median of 3 is steady
        print(_case("sr-512", "photos-srresnet-x2", sr, feeds, 1, args.threads, sr_repeats))
    print(f"# load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)


if __name__ == "__main__":
    main()
