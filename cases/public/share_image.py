"""The raster share image: `/public/recommendations/<code>/status.png`, 1200 x 630, for link previews.

Facebook, X/Twitter and LinkedIn show no SVG preview, so og:image and twitter:image point here. No image
library and no external service: a PNG is a signature, an IHDR chunk, zlib-compressed rows and IEND
(RFC 2083), written with zlib and struct. Without a font the picture carries no words (the words are in
og:title and og:image:alt): a band in the site's colour, one bar per line of the status card in the card's
colours (a square of its text colour marks the status), and a bar of the recommendation's document split by
implementation status. Right to left in Uyghur (mirrored). Only public data: the recommendation's status is
computed from published assessments (services.recompute_current_status), the document's counts too.

Served as a public page (cases.public.caching.public_page): ETag and Last-Modified, 304, `public,
max-age=300`, 404 while PUBLIC_SITE is off.
"""

from __future__ import annotations

import struct
import zlib

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language_bidi

from cases import access
from cases.corrections import BADGE_COLOURS, SVG_HEIGHT, SVG_WIDTH, status_image_context
from cases.models import ImplementationStatus, Recommendation

from .caching import public_page

__all__ = ["BADGE_COLOURS", "png_bytes", "status_png"]

WIDTH, HEIGHT = SVG_WIDTH, SVG_HEIGHT
WHITE = "#ffffff"
BAND = "#1d4f7c"  # --primary (static/css/tracker.css)
BAND_EDGE = "#153a5c"  # --primary-dark
RULE = "#8a96a1"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(width: int, height: int, pixels: bytes | bytearray) -> bytes:
    """An 8-bit RGB PNG of `pixels` (rows top to bottom, 3 bytes a pixel), every row unfiltered."""
    stride = width * 3
    if len(pixels) != stride * height:
        raise ValueError("pixels do not match the size")
    view = memoryview(pixels)
    raw = b"".join(b"\x00" + view[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def _rgb(colour: str) -> bytes:
    return bytes(int(colour[i : i + 2], 16) for i in (1, 3, 5))


class Canvas:
    """Filled rectangles on a white picture; `mirrored` draws each at the other side (right to left)."""

    def __init__(self, width: int, height: int, *, mirrored: bool = False):
        self.width, self.height, self.mirrored = width, height, mirrored
        self.pixels = bytearray(_rgb(WHITE) * (width * height))

    def rect(self, x: int, y: int, w: int, h: int, colour: str) -> None:
        if self.mirrored:
            x = self.width - x - w
        x0, x1 = max(x, 0), min(x + w, self.width)
        if x1 <= x0:
            return
        span = _rgb(colour) * (x1 - x0)
        for row in range(max(y, 0), min(y + h, self.height)):
            start = (row * self.width + x0) * 3
            self.pixels[start : start + len(span)] = span

    def framed(self, x: int, y: int, w: int, h: int, fill: str, border: str, line: int = 4) -> None:
        self.rect(x, y, w, h, border)
        self.rect(x + line, y + line, w - 2 * line, h - 2 * line, fill)

    def png(self) -> bytes:
        return png_bytes(self.width, self.height, self.pixels)


def draw(rows, document_counts: list[tuple[str, int]], *, mirrored: bool) -> bytes:
    """The picture: `rows` are status_image_context's (fill = the card's text colour, background, border);
    `document_counts` the document's recommendations by implementation status, in declared order."""
    canvas = Canvas(WIDTH, HEIGHT, mirrored=mirrored)
    canvas.rect(0, 0, WIDTH, 110, BAND)
    canvas.rect(0, 110, WIDTH, 8, BAND_EDGE)
    for index, row in enumerate(rows[:3]):
        y = 170 + index * 130
        canvas.framed(60, y, WIDTH - 120, 100, row.background, row.border)
        canvas.rect(84, y + 20, 60, 60, row.fill)
    total = sum(n for _value, n in document_counts)
    if total:
        canvas.rect(60, 552, WIDTH - 120, 2, RULE)
        x, inner = 60, WIDTH - 120
        for value, n in document_counts:
            w = round(inner * n / total)
            _text, background, border = BADGE_COLOURS.get(value, BADGE_COLOURS["not_assessed"])
            canvas.framed(x, 562, w, 40, background, border, line=3 if w > 6 else 0)
            x += w
    return canvas.png()


@public_page
def status_png(request: HttpRequest, code: str) -> HttpResponse:
    """Queries: the recommendation (its State claim joined) and its document's counts by status."""
    recommendation = access.get_recommendation(code)
    found = dict(
        access.public_recommendations(Recommendation.objects.filter(document_id=recommendation.document_id))
        .order_by()
        .values("implementation_status")
        .annotate(n=Count("pk"))
        .values_list("implementation_status", "n")
    )
    counts = [(value, found[value]) for value in ImplementationStatus.values if found.get(value)]
    image = draw(status_image_context(recommendation)["rows"], counts, mirrored=get_language_bidi())
    return HttpResponse(image, content_type="image/png")
