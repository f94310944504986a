"""The CJK font the report's charts and PDF use: Chinese statements and labels must render.

Debian's fonts-wqy-microhei (scripts/ensure-debs.sh installs it) at its known path first,
then Noto CJK, then whatever fontconfig lists for Chinese.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

KNOWN = (
    ("WenQuanYi Micro Hei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    ("WenQuanYi Zen Hei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    ("Noto Sans CJK SC", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
# what the HTML asks for: the font found here first, then what readers' systems usually have
CSS_FALLBACK = ("Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "sans-serif")
INSTALL_HINT = "install Debian's fonts-wqy-microhei (scripts/ensure-debs.sh does)"


@dataclass(frozen=True)
class Font:
    family: str
    path: str


@functools.cache
def cjk_font() -> Font | None:
    """A font with Chinese glyphs, or None when the machine has none."""
    for family, path in KNOWN:
        if Path(path).is_file():
            return Font(family, path)
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return None
    try:
        listed = subprocess.run(
            [fc_list, ":lang=zh", "family", "file"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in sorted(listed.splitlines()):
        path, _, families = line.partition(": ")
        family = families.split(",")[0].strip()
        if family and Path(path).is_file() and path.endswith((".ttf", ".ttc", ".otf")):
            return Font(family, path)
    return None


def css_families() -> str:
    """The CSS font-family list: Latin text in DejaVu/system sans, Chinese in the CJK font."""
    font = cjk_font()
    names = ["DejaVu Sans", *([font.family] if font else []), *CSS_FALLBACK]
    return ", ".join(n if n == "sans-serif" else f'"{n}"' for n in dict.fromkeys(names))
