"""Model families: a plain dict from name to Family class."""

from __future__ import annotations

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.families.base import Family
from ganforge.families.conditional import ConditionalFamily, ConditionalSettings
from ganforge.families.cyclegan import CycleGANFamily, CycleGANSettings
from ganforge.families.fanogan import FAnoGANFamily, FAnoGANSettings
from ganforge.families.ganomaly import GANomalyFamily, GANomalySettings
from ganforge.families.pix2pix import Pix2PixFamily, Pix2PixSettings
from ganforge.families.series import SeriesFamily
from ganforge.families.srgan import SRGANFamily, SRGANSettings
from ganforge.families.tabular import TabularFamily
from ganforge.families.unconditional import UnconditionalFamily
from ganforge.families.video import VideoFamily, VideoSettings

FAMILIES: dict[str, type[Family]] = {
    "unconditional": UnconditionalFamily,
    "conditional": ConditionalFamily,
    "ganomaly": GANomalyFamily,
    "fanogan": FAnoGANFamily,
    "srgan": SRGANFamily,
    "pix2pix": Pix2PixFamily,
    "cyclegan": CycleGANFamily,
    "tabular": TabularFamily,
    "series": SeriesFamily,
    "video": VideoFamily,
}

# Family name -> the settings dataclass its module declares: the config's `[name]` table
# (config.family_settings). Families without settings of their own have no entry.
SETTINGS: dict[str, type] = {
    "conditional": ConditionalSettings,
    "srgan": SRGANSettings,
    "pix2pix": Pix2PixSettings,
    "cyclegan": CycleGANSettings,
    "ganomaly": GANomalySettings,
    "fanogan": FAnoGANSettings,
    "video": VideoSettings,
}


def family_class(config: Config) -> type[Family]:
    """The Family class a config names."""
    name = config.model.family
    if name not in FAMILIES:
        raise GanforgeError(f"unknown family {name!r}", fix=f"choose one of: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def make_family(config: Config) -> Family:
    """Instantiate the family a config names."""
    return family_class(config)(config)
