"""`ganforge export RUN --format pretrained -o DIR`: any ganforge model as a pretrained folder
(config.json + model.safetensors, no pickle; see ganforge.pretrained): a run's (EMA) generator
with its discriminator (for fine-tuning), a fitted anomaly detector, or a tabular model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ganforge.errors import GanforgeError


@dataclass
class PretrainedReport:
    """What export_pretrained wrote."""

    path: Path
    kind: str
    source: Path

    def lines(self) -> list[str]:
        """Printable summary."""
        files = ", ".join(sorted(p.name for p in self.path.iterdir()))
        return [
            f"ganforge: saved the {self.kind} of {self.source} as a pretrained folder ({files})"
        ]


def export_pretrained(run: str | Path, output: str | Path) -> PretrainedReport:
    """Save what ``run`` holds (a run directory, a model file, or a pretrained folder) as a
    pretrained folder at ``output``; the output is checked before anything is loaded."""
    from ganforge.apps.detector_file import DETECTOR_FILE, DETECTOR_FORMAT
    from ganforge.io_checks import check_writable
    from ganforge.pretrained import check_target, is_pretrained_folder, read_meta
    from ganforge.training.checkpoint import format_tag

    out = Path(output).expanduser()
    if out.suffix.lower() in (".onnx", ".pt", ".json", ".safetensors"):
        raise GanforgeError(
            f"--format pretrained writes a folder, but -o {out.name} names a file",
            str(out),
            f"use -o {out.with_suffix('').name} (a folder)",
        )
    check_target(out)
    check_writable(out, folder=True, what="model folder")
    path = Path(run)
    tag = format_tag(path)
    kind = read_meta(path)["kind"] if is_pretrained_folder(path) else None
    if (
        (path.is_dir() and (path / DETECTOR_FILE).is_file())
        or tag == DETECTOR_FORMAT
        or (kind == "anomaly-detector")
    ):
        from ganforge.apps.anomaly import AnomalyDetector

        detector = AnomalyDetector.load(path)
        return PretrainedReport(detector.save_pretrained(out), "anomaly detector", path)
    if tag == "ganforge-tabular" or kind == "tabular":
        from ganforge.tabular.model import TabularGAN

        return PretrainedReport(TabularGAN.load(path).save_pretrained(out), "tabular model", path)
    if tag == "ganforge-series":
        raise GanforgeError(
            "series models have no pretrained folder format yet",
            str(path),
            "hand on the .gfs file itself (`ganforge series sample` reads it)",
        )
    from ganforge.sampling import load_generator
    from ganforge.training.checkpoint import latest_checkpoint

    if path.is_dir() and not kind and (path / "checkpoints").is_dir():
        path = latest_checkpoint(path)  # its checkpoint holds D as well as the (EMA) generator
    model = load_generator(path)
    return PretrainedReport(model.save_pretrained(out), "generator", Path(model.source))
