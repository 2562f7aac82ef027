"""Related tables: parents and children linked by primary / foreign keys (in the spirit of SDV's HMA,
with one ganforge TabularGAN per table).

    ganforge tabular fit-multi --metadata meta.json firms.csv years.csv -o models/
    ganforge tabular sample-multi models/ -o synth/ [--scale 1]

The metadata is {"tables": {name: table metadata}} (ganforge.tabular.metadata); a child's foreign
key says which parent it points to: {"type": "id", "role": "foreign_key", "references":
"firms.firm"}. Each child table has one parent; chains (grandchildren) work the same way.

Fit: a parent table learns, as one more integer column per child table, how many children each
of its rows has; a child table learns its own columns together with its parent's columns (joined
through the key, prefixed `parent.`). Sample: parents first (fresh keys), then each child table's
rows are drawn (3x what the parents' counts need) and each parent takes, of the rows not yet
taken, the ones whose parent columns are nearest its own (standardised distance); their foreign
key is that parent's key, so every key points to a generated parent. Children of a parent are
ordered by the table's sequence key, if it has one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ganforge.errors import GanforgeError
from ganforge.tabular import metadata as md

COUNT = "children."  # the parent's column holding its number of children of a table
PARENT = "parent."  # a child's copy of its parent's columns
OVERSAMPLE = 3


def _foreign_key(table: dict) -> tuple[str, str, str] | None:
    """(fk column, parent table, parent key column) of a table, or None (a root)."""
    fks = [(n, e) for n, e in table["columns"].items() if e.get("role") == "foreign_key"]
    if not fks:
        return None
    if len(fks) > 1:
        raise GanforgeError(
            f"a table with {len(fks)} foreign keys ({', '.join(n for n, _ in fks)})",
            fix="give each table one parent",
        )
    name, entry = fks[0]
    parent, sep, key = entry["references"].partition(".")
    if not sep:
        raise GanforgeError(f"foreign key {name!r}: references must be TABLE.COLUMN")
    return name, parent, key


def relationships(meta: dict, where: str = "metadata") -> dict[str, tuple[str, str, str]]:
    """{child table: (fk column, parent table, parent key)}, checked (tables and keys exist)."""
    md.check(meta, where)
    if "tables" not in meta:
        raise GanforgeError("the metadata describes one table", where, 'use "tables": {...}')
    tables = meta["tables"]
    links = {}
    for name, table in tables.items():
        fk = _foreign_key(table)
        if fk is None:
            continue
        column, parent, key = fk
        if parent not in tables:
            raise GanforgeError(
                f"foreign key {name}.{column} references table {parent!r}, which the metadata "
                "lacks",
                where,
                f"tables are: {', '.join(tables)}",
            )
        entry = tables[parent]["columns"].get(key)
        if entry is None or entry.get("role") != "primary_key":
            raise GanforgeError(
                f"foreign key {name}.{column} references {parent}.{key}, which is not a primary "
                "key",
                where,
                f'mark it {{"type": "id", "role": "primary_key"}} in table {parent!r}',
            )
        links[name] = (column, parent, key)
    return links


def order(meta: dict, links: dict) -> list[str]:
    """Tables parents first (a cycle of keys: one line)."""
    done: list[str] = []
    pending = list(meta["tables"])
    while pending:
        ready = [t for t in pending if t not in links or links[t][1] in done]
        if not ready:
            raise GanforgeError(f"the foreign keys of {', '.join(pending)} form a cycle")
        done += ready
        pending = [t for t in pending if t not in ready]
    return done


def _key_of(table: dict) -> str | None:
    keys = [n for n, e in table["columns"].items() if e.get("role") == "primary_key"]
    return keys[0] if keys else None


def check_tables(meta: dict, frames: dict[str, pd.DataFrame], where: str) -> dict:
    """Every table given, every key unique, every foreign key pointing to a real parent."""
    links = relationships(meta, where)
    missing = [t for t in meta["tables"] if t not in frames]
    extra = [t for t in frames if t not in meta["tables"]]
    if missing or extra:
        raise GanforgeError(
            f"tables given ({', '.join(frames) or 'none'}) do not match the metadata's "
            f"({', '.join(meta['tables'])})",
            where,
            "name each CSV after its table (firms.csv) or pass TABLE=PATH",
        )
    for name, table in meta["tables"].items():
        md.Plan(table, f"{where}: table {name!r}").check_frame(frames[name], f"table {name!r}")
    for child, (column, parent, key) in links.items():
        fk = frames[child][column]
        orphans = fk[fk.notna() & ~fk.isin(set(frames[parent][key]))]
        if len(orphans) or fk.isna().any():
            shown = repr(orphans.iloc[0]) if len(orphans) else "an empty key"
            raise GanforgeError(
                f"{len(orphans) + int(fk.isna().sum())} row(s) of {child!r} have a foreign key "
                f"{column!r} with no parent in {parent!r} (e.g. {shown})",
                where,
                "fix the keys or drop those rows",
            )
    return links


def _learnable(table: dict) -> list[str]:
    """A parent's columns a child learns with: neither keys nor dropped text."""
    out = []
    for name, e in table["columns"].items():
        if e["type"] == "id" or (e["type"] == "text" and e.get("handling", "drop") == "drop"):
            continue
        out.append(name)
    return out


def augmented(meta: dict, frames: dict[str, pd.DataFrame], links: dict):
    """(tables' metadata, frames) with the child counts and parent columns added."""
    metas = {t: json.loads(json.dumps(m)) for t, m in meta["tables"].items()}
    out = {t: f.copy() for t, f in frames.items()}
    for child, (column, parent, key) in links.items():
        counts = frames[child][column].value_counts()
        n = frames[parent][key].map(counts).fillna(0).astype(int)
        name = COUNT + child
        out[parent][name] = n.to_numpy()
        metas[parent]["columns"][name] = {
            "type": "numerical",
            "subtype": "integer",
            "min": int(n.min()),
            "max": int(n.max()),
        }
    for child, (column, parent, key) in links.items():
        cols = _learnable(meta["tables"][parent])
        joined = frames[child][[column]].merge(
            frames[parent][[key, *cols]], left_on=column, right_on=key, how="left"
        )
        for c in cols:
            out[child][PARENT + c] = joined[c].to_numpy()
            metas[child]["columns"][PARENT + c] = dict(meta["tables"][parent]["columns"][c])
            metas[child]["columns"][PARENT + c].pop("role", None)
        out[child] = out[child].drop(columns=[column])
        del metas[child]["columns"][column]
    return metas, out


class MultiTableModel:
    """One TabularGAN per table, fit parents first; `sample` keeps keys consistent."""

    def __init__(self, **settings):
        self.settings = settings
        self.meta: dict = {}
        self.links: dict = {}
        self.models: dict = {}
        self.sizes: dict[str, int] = {}

    def fit(
        self,
        frames: dict[str, pd.DataFrame],
        meta: dict,
        where: str = "metadata",
        on_table=None,
        on_columns=None,
    ):
        from ganforge.tabular import TabularGAN

        self.links = check_tables(meta, frames, where)
        self.meta = meta
        metas, data = augmented(meta, frames, self.links)
        for name in order(meta, self.links):
            if on_table is not None:
                on_table(name, data[name])
            model = TabularGAN(**self.settings)
            if on_columns is not None:
                model.on_columns = on_columns
            self.models[name] = model.fit(data[name], metadata=metas[name])
            self.sizes[name] = len(frames[name])
        return self

    def sample(self, scale: float = 1.0, seed: int = 0) -> dict[str, pd.DataFrame]:
        """Every table, parents `scale` x as many rows as the real roots; keys consistent."""
        out: dict[str, pd.DataFrame] = {}
        rng = np.random.default_rng(seed)
        for i, name in enumerate(order(self.meta, self.links)):
            model = self.models[name]
            if name not in self.links:
                n = max(1, round(scale * self.sizes[name]))
                out[name] = model.sample(n, seed=seed + i)
                continue
            column, parent, key = self.links[name]
            parents = out[parent]
            counts = np.clip(np.round(pd.to_numeric(parents[COUNT + name]).to_numpy()), 0, None)
            counts = counts.astype(int)
            total = int(counts.sum())
            if total == 0:
                rows = model.sample(1, seed=seed + i).iloc[:0]
            else:
                rows = model.sample(OVERSAMPLE * total, seed=seed + i)
            out[name] = _assign(rows, parents, counts, column, key, self.meta, parent, name, rng)
        for name, (_, parent, _) in self.links.items():
            out[parent] = out[parent].drop(columns=[COUNT + name], errors="ignore")
        return {t: out[t] for t in self.meta["tables"]}

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, model in self.models.items():
            model.save(folder / f"{name}.gft")
        info = {
            "format": "ganforge-multi-table",
            "version": 1,
            "meta": self.meta,
            "sizes": self.sizes,
        }
        from ganforge.tabular.io import atomic_write_text

        atomic_write_text(json.dumps(info, indent=2), folder / "multi.json")
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> MultiTableModel:
        from ganforge.tabular import TabularGAN

        folder = Path(folder)
        try:
            info = json.loads((folder / "multi.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GanforgeError(
                "not a ganforge multi-table model folder (no multi.json)",
                str(folder),
                "give the -o folder of `ganforge tabular fit-multi`",
            ) from None
        except ValueError as e:
            raise GanforgeError(f"damaged multi.json ({e})", str(folder)) from None
        if not isinstance(info, dict) or info.get("format") != "ganforge-multi-table":
            raise GanforgeError("not a ganforge multi-table model folder", str(folder))
        model = cls()
        model.meta, model.sizes = info["meta"], {k: int(v) for k, v in info["sizes"].items()}
        model.links = relationships(model.meta, str(folder / "multi.json"))
        model.models = {
            t: TabularGAN.load(folder / f"{t}.gft", device) for t in model.meta["tables"]
        }
        return model


def _encoded(frame: pd.DataFrame, columns: list[str], reference: pd.DataFrame) -> np.ndarray:
    """Columns as standardised numbers (categories: one-hot over the reference's levels)."""
    from ganforge.tabular.constraints import numbers_of

    parts = []
    for c in columns:
        ref = reference[c]
        x = (
            numbers_of(ref)
            if pd.api.types.is_numeric_dtype(ref) or pd.api.types.is_datetime64_any_dtype(ref)
            else None
        )
        if x is not None and np.isfinite(x).any():
            mu, sd = np.nanmean(x), np.nanstd(x) or 1.0
            v = (numbers_of(frame[c]) - mu) / sd
            parts.append(np.nan_to_num(v, nan=0.0)[:, None])
        else:
            levels = pd.Index(ref.astype(str).unique())
            codes = levels.get_indexer(frame[c].astype(str))
            parts.append(np.eye(len(levels) + 1)[codes] * 1.0)
    if not parts:
        return np.zeros((len(frame), 1))
    return np.concatenate(parts, axis=1)


def _assign(rows, parents, counts, column, key, meta, parent, child, rng) -> pd.DataFrame:
    """Each parent takes its `count` nearest not-yet-taken rows (by the parent columns)."""
    cols = [c for c in rows.columns if c.startswith(PARENT)]
    bare = [c[len(PARENT) :] for c in cols]
    ref = parents[bare].copy()
    ref.columns = cols
    a, b = _encoded(ref, cols, ref), _encoded(rows, cols, ref)
    taken = np.zeros(len(rows), dtype=bool)
    picks, keys = [], []
    for p in rng.permutation(len(parents)):
        k = int(counts[p])
        if k == 0:
            continue
        d = ((b - a[p]) ** 2).sum(1)
        d[taken] = np.inf
        k = min(k, int((~taken).sum()))
        chosen = np.argpartition(d, k - 1)[:k] if k < len(d) else np.flatnonzero(~taken)
        taken[chosen] = True
        picks.append(chosen)
        keys += [parents[key].iloc[p]] * k
    index = np.concatenate(picks) if picks else np.zeros(0, dtype=int)
    out = rows.iloc[index].drop(columns=cols).reset_index(drop=True)
    out.insert(0, column, pd.Series(keys, dtype=parents[key].dtype))
    names = [c for c in meta["tables"][child]["columns"] if c in out.columns]
    out = out[names + [c for c in out.columns if c not in names]]
    seq = [
        n for n, e in meta["tables"][child]["columns"].items() if e.get("role") == "sequence_key"
    ]
    if seq:
        out = out.sort_values([column, seq[0]], kind="stable").reset_index(drop=True)
    return out


# ---- scores ------------------------------------------------------------------------------------
def _counts(frames, child, column, parent, key) -> np.ndarray:
    c = frames[child][column].value_counts()
    return frames[parent][key].map(c).fillna(0).to_numpy()


def _joined(frames, child, column, parent, key) -> pd.DataFrame:
    return frames[child].merge(
        frames[parent], left_on=column, right_on=key, suffixes=("", " (parent)")
    )


def cardinality_score(real: dict, synth: dict, links: dict) -> dict[str, float]:
    """Per relationship: 1 - KS distance between children-per-parent counts (1: same shape)."""
    from scipy.stats import ks_2samp

    out = {}
    for child, (column, parent, key) in links.items():
        out[f"{parent}->{child}"] = float(
            1
            - ks_2samp(
                _counts(real, child, column, parent, key),
                _counts(synth, child, column, parent, key),
            ).statistic
        )
    return out


def pair_trend_score(real: dict, synth: dict, links: dict) -> dict[str, float]:
    """Per relationship: 1 - |corr_real - corr_synth| / 2 averaged over every (parent numeric
    column, child numeric column) pair, on the joined rows (sdmetrics' inter-table trends)."""
    out = {}
    for child, (column, parent, key) in links.items():
        jr, js = (_joined(f, child, column, parent, key) for f in (real, synth))
        pcols = [
            c
            for c in real[parent].columns
            if c != key and pd.api.types.is_numeric_dtype(real[parent][c])
        ]
        ccols = [
            c
            for c in real[child].columns
            if c not in (column,) and pd.api.types.is_numeric_dtype(real[child][c])
        ]
        scores = []
        for pc in pcols:
            pn = pc if pc not in real[child].columns else pc + " (parent)"
            for cc in ccols:
                r = jr[[pn, cc]].astype(float).corr().iloc[0, 1]
                s = js[[pn, cc]].astype(float).corr().iloc[0, 1]
                if np.isfinite(r) and np.isfinite(s):
                    scores.append(1 - abs(r - s) / 2)
        out[f"{parent}->{child}"] = float(np.mean(scores)) if scores else float("nan")
    return out
