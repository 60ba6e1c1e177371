"""Media files told and measured from their headers, never decoded: :func:`probe` and what it reads them with.

``humekit.pipeline.media`` was one module before this package; its names are still importable from here
(``from humekit.pipeline.media import probe``). :func:`probe` lives in :mod:`~humekit.pipeline.media.probing`,
:class:`MediaInfo` in :mod:`~humekit.pipeline.media.info`, :func:`parse_wav` and :class:`WavFormat` in
:mod:`~humekit.pipeline.media.wav`.
"""

from humekit.pipeline.media.info import MediaInfo
from humekit.pipeline.media.probing import probe
from humekit.pipeline.media.wav import WavFormat, parse_wav

__all__ = ["MediaInfo", "WavFormat", "parse_wav", "probe"]
