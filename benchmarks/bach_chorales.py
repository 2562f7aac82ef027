"""Music is a sequence too: TimeSeriesGAN on the Bach chorales that music21 ships, back to MIDI.

    nice -n 10 python benchmarks/bach_chorales.py --chorales 100 --minutes 4 --out runs/bach
    python benchmarks/bach_chorales.py --quick --out /tmp/bach    # smoke test: seconds

Data: the first `--chorales` four-part chorales of music21's offline corpus
(`corpus.chorales.Iterator`, Riemenschneider order). Each voice of each chorale (ties merged,
rests left out) is one sequence of notes, one row per note: `voice` (S, A, T or B: constant
within a sequence, so a static attribute where the model has them), `pitch` (MIDI number,
integer), `duration` (quarter lengths) and `offset` (the note's offset within its bar, quarter
lengths; 0 on the downbeat). TimeSeriesGAN fits it with `sequence_key` = chorale + voice and
`--seq-len` notes per window, then samples `--pieces` x 4 sequences (one per voice: conditioned
on `voice` where the model can, else grouped by the generated voice) and writes each piece as a
four-part MIDI file: notes laid end to end, durations snapped to the nearest value the chorales
use. The four voices of a generated piece are sampled independently (the model sees one voice
at a time): they share the style, not a harmony. It prints the figures that tell real from
generated lines (pitch range per voice, step size, note values, notes on the beat) and draws a
piano roll of a real chorale against a generated piece (`--png`).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
VOICES = ("S", "A", "T", "B")
COLOURS = {"S": "tab:red", "A": "tab:orange", "T": "tab:green", "B": "tab:blue"}


def chorale_notes(count: int) -> tuple[pd.DataFrame, list[str]]:
    """One row per note of the first `count` SATB chorales: chorale, voice, pitch, duration,
    offset (within the bar); and the chorales' names."""
    from music21 import corpus

    rows, names = [], []
    for score in corpus.chorales.Iterator(numberingSystem="riemenschneider", returnType="stream"):
        if len(names) == count:
            break
        if score is None or len(score.parts) != 4:
            continue
        name = str(score.metadata.title if score.metadata else len(names))
        for voice, part in zip(VOICES, score.parts, strict=True):
            for note in part.stripTies().recurse().notes:
                pitch = max(p.midi for p in note.pitches)  # a chord in one part: its top note
                beat_ql = float(note.beatDuration.quarterLength)
                rows.append(
                    (
                        len(names),
                        voice,
                        int(pitch),
                        float(note.quarterLength),
                        round((float(note.beat) - 1) * beat_ql, 4),
                    )
                )
        names.append(name)
    frame = pd.DataFrame(rows, columns=["chorale", "voice", "pitch", "duration", "offset"])
    return frame, names


def fit(frame: pd.DataFrame, seq_len: int, minutes: float, seed: int, quick: bool):
    """TimeSeriesGAN on one sequence per chorale and voice: (model, what the API took)."""
    from ganforge.series import TimeSeriesGAN

    table = frame.assign(sequence=frame["chorale"].astype(str) + "-" + frame["voice"])
    table = table.drop(columns=["chorale"])
    params = inspect.signature(TimeSeriesGAN.fit).parameters
    kwargs = {"max_steps": 10} if quick else {}
    model = TimeSeriesGAN(max_minutes=minutes, seed=seed, verbose=not quick, **kwargs)
    model.warn_notes = False
    if "discrete" in params:  # voice: a category (a static attribute where the model has them)
        # durations and offsets in the bar take a dozen values each: categories, not numbers
        model.fit(
            table,
            seq_len=seq_len,
            sequence_key="sequence",
            discrete=["voice", "duration", "offset"],
        )
        how = "voice discrete (static), pitch integer, duration and offset discrete"
    else:  # an API of numbers only: voice as its index, everything rounded afterwards
        table["voice"] = table["voice"].map(VOICES.index)
        model.fit(table, seq_len=seq_len, sequence_key="sequence")
        how = "all columns continuous (this TimeSeriesGAN takes numbers only): rounded after"
    return model, how


def sample_voices(model, voice: str, n: int, seed: int) -> list[pd.DataFrame]:
    """n generated sequences of one voice (each a frame: pitch, duration, offset)."""
    params = inspect.signature(model.sample).parameters
    if "conditions" in params and getattr(model, "decisions", None) is not None:
        try:
            out = model.sample(n, seed=seed, conditions={"voice": voice})
            return [g for _, g in out.groupby("sequence_id", sort=True)]
        except Exception:  # noqa: BLE001  (a model without static attributes: group below)
            pass
    found: list[pd.DataFrame] = []
    for attempt in range(20):
        out = model.sample(8 * n, seed=seed + 1000 * attempt)
        for _, g in out.groupby("sequence_id", sort=True):
            v = g["voice"]
            level = v.mode().iloc[0]
            label = (
                VOICES[int(np.clip(round(float(level)), 0, 3))]
                if not isinstance(level, str)
                else level
            )
            if label == voice:
                found.append(g)
            if len(found) == n:
                return found
    return found


def snap(durations: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Each duration to the nearest value the chorales use (at least the shortest)."""
    index = np.abs(durations[:, None] - allowed[None, :]).argmin(1)
    return allowed[index]


def as_notes(seq: pd.DataFrame, allowed: np.ndarray) -> pd.DataFrame:
    """A generated sequence as playable notes: integer pitch in MIDI's range, snapped durations,
    onsets laid end to end."""
    pitch = np.clip(np.rint(seq["pitch"].to_numpy(np.float64)), 0, 127).astype(int)
    duration = snap(seq["duration"].to_numpy(np.float64), allowed)
    onset = np.concatenate([[0.0], np.cumsum(duration)[:-1]])
    return pd.DataFrame(
        {
            "pitch": pitch,
            "duration": duration,
            "onset": onset,
            "offset": seq["offset"].to_numpy(np.float64),
        }
    )


def real_piece(frame: pd.DataFrame, chorale: int) -> dict[str, pd.DataFrame]:
    out = {}
    for voice in VOICES:
        part = frame[(frame["chorale"] == chorale) & (frame["voice"] == voice)]
        duration = part["duration"].to_numpy(np.float64)
        onset = np.concatenate([[0.0], np.cumsum(duration)[:-1]])
        out[voice] = pd.DataFrame(
            {"pitch": part["pitch"].to_numpy(), "duration": duration, "onset": onset}
        )
    return out


def write_midi(piece: dict[str, pd.DataFrame], path: Path) -> Path:
    from music21 import note, stream, tempo

    score = stream.Score()
    for i, voice in enumerate(VOICES):
        part = stream.Part(id=voice)
        if i == 0:
            part.insert(0, tempo.MetronomeMark(number=80))
        for row in piece[voice].itertuples():
            part.insert(
                float(row.onset), note.Note(int(row.pitch), quarterLength=float(row.duration))
            )
        score.insert(0, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    score.write("midi", fp=str(path))
    return path


def pianoroll(real: dict, fake: dict, path: Path, title_real: str, span: float = 32.0) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    fig, axes = plt.subplots(2, 1, figsize=(11, 6.2), sharex=True, sharey=True)
    for ax, piece, title in (
        (axes[0], real, title_real),
        (axes[1], fake, "generated (TimeSeriesGAN)"),
    ):
        for voice in VOICES:
            for row in piece[voice].itertuples():
                if row.onset >= span:
                    break
                width = min(row.duration, span - row.onset) - 0.05
                ax.add_patch(
                    Rectangle((row.onset, row.pitch - 0.4), width, 0.8, color=COLOURS[voice])
                )
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_ylabel("MIDI pitch")
        ax.grid(axis="x", alpha=0.3)
    pitches = np.concatenate([p[v]["pitch"].to_numpy() for p in (real, fake) for v in VOICES])
    axes[0].set_ylim(pitches.min() - 2, pitches.max() + 2)
    axes[0].set_xlim(0, span)
    axes[1].set_xlabel("quarter notes")
    fig.legend(
        handles=[Patch(color=COLOURS[v], label=v) for v in VOICES],
        loc="upper right",
        ncol=4,
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figures(notes: dict[str, list[pd.DataFrame]]) -> dict[str, dict[str, float]]:
    """Per voice: mean and std of pitch, mean |step| in semitones, share of quarter notes and of
    eighths, share of notes on a beat (offset within the bar a whole number)."""
    out = {}
    for voice, seqs in notes.items():
        pitch = np.concatenate([s["pitch"].to_numpy(np.float64) for s in seqs])
        steps = np.concatenate([np.abs(np.diff(s["pitch"].to_numpy(np.float64))) for s in seqs])
        dur = np.concatenate([s["duration"].to_numpy(np.float64) for s in seqs])
        off = np.concatenate([s["offset"].to_numpy(np.float64) for s in seqs])
        out[voice] = {
            "pitch": float(pitch.mean()),
            "pitch_std": float(pitch.std()),
            "step": float(steps.mean()),
            "quarters": float(np.mean(np.isclose(dur, 1.0))),
            "eighths": float(np.mean(np.isclose(dur, 0.5))),
            "on_beat": float(np.mean(np.abs(off - np.rint(off)) < 0.125)),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chorales", type=int, default=100)
    p.add_argument("--seq-len", type=int, default=32, help="notes per window")
    p.add_argument("--minutes", type=float, default=4.0, help="wall-clock budget of the fit")
    p.add_argument("--pieces", type=int, default=4, help="generated four-part MIDI files")
    p.add_argument("--out", default="runs/bach", help="folder for the MIDI files")
    p.add_argument("--png", default=str(ROOT / "docs" / "series_bach_pianoroll.png"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="3 chorales, 10 steps: a smoke test")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    count = 3 if args.quick else args.chorales
    cache = Path(args.out) / f"notes_{count}.csv"  # parsing is the slow part (~0.5 s a chorale)
    if cache.exists():
        frame = pd.read_csv(cache)
        names = [line for line in cache.with_suffix(".names").read_text().splitlines()]
    else:
        frame, names = chorale_notes(count)
        cache.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(cache, index=False)
        cache.with_suffix(".names").write_text("\n".join(names) + "\n")
    allowed = np.sort(frame["duration"].unique())
    print(
        f"{len(names)} chorales, {len(frame)} notes, {frame.groupby(['chorale', 'voice']).ngroups} "
        f"voice sequences ({time.perf_counter() - t0:.0f} s to read)",
        flush=True,
    )
    t1 = time.perf_counter()
    model, how = fit(frame, args.seq_len, args.minutes, args.seed, args.quick)
    steps = model.summary.get("steps", "?")
    print(
        f"fit: {time.perf_counter() - t1:.0f} s, {steps} steps, seq_len {args.seq_len}; {how}",
        flush=True,
    )
    out = Path(args.out)
    generated = {v: sample_voices(model, v, args.pieces, args.seed) for v in VOICES}
    missing = [v for v in VOICES if len(generated[v]) < args.pieces]
    if missing:
        print(f"could not sample {args.pieces} sequences of voice(s) {missing}", file=sys.stderr)
        return 1
    played = {v: [as_notes(s, allowed) for s in generated[v]] for v in VOICES}
    written = [
        write_midi({v: played[v][i] for v in VOICES}, out / f"generated_{i}.mid")
        for i in range(args.pieces)
    ]
    real = real_piece(frame, 0)
    write_midi(real, out / "real_0.mid")
    print(f"wrote {len(written)} generated MIDI files and real_0.mid to {out}")
    real_seqs = {v: [g for _, g in frame[frame["voice"] == v].groupby("chorale")] for v in VOICES}
    fig_real, fig_fake = figures(real_seqs), figures(played)
    print("voice  mean pitch (std)      mean |step|   quarters     eighths      on the beat")
    print("       real / generated    real / gen    real / gen   real / gen   real / gen")
    for v in VOICES:
        r, g = fig_real[v], fig_fake[v]
        print(
            f"{v:<6} {r['pitch']:4.1f} ({r['pitch_std']:3.1f}) / {g['pitch']:4.1f} ({g['pitch_std']:3.1f})"
            f"   {r['step']:4.2f} / {g['step']:4.2f}   {r['quarters']:.2f} / {g['quarters']:.2f}"
            f"  {r['eighths']:.2f} / {g['eighths']:.2f}  {r['on_beat']:.2f} / {g['on_beat']:.2f}"
        )
    png = pianoroll(real, {v: played[v][0] for v in VOICES}, Path(args.png), f"real: {names[0]}")
    print(f"piano roll: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
