"""The raster share image (issue 13, item 3): `/public/recommendations/<code>/status.png`, a 1200 x 630 PNG
drawn on the server (zlib and struct, no image library, no external service), pointed at by og:image and
twitter:image. Decoded here with zlib alone: it must be a valid PNG whose colours are the recommendation's
public status (published assessments only), cacheable like every public page."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from django.test import Client

from cases import services
from cases.models import ImplementationStatus, StateResponse
from cases.public.share_image import BADGE_COLOURS, png_bytes
from tests.factories import submit

pytestmark = pytest.mark.django_db

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == PNG_SIGNATURE
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        offset += 12 + length
    return chunks


def decode(data: bytes) -> tuple[int, int, set[tuple[int, int, int]], list[bytes]]:
    """Width, height, the set of colours used and the rows of an 8-bit RGB, non-interlaced PNG."""
    chunks = _chunks(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour_type, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    assert (depth, colour_type, compression, filtering, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * 3 + 1
    assert len(raw) == stride * height
    rows = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0  # filter type None on every row
        rows.append(row[1:])
    colours = {tuple(row[x : x + 3]) for row in rows for x in range(0, len(row), 3)}
    return width, height, colours, rows


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def test_the_writer_makes_a_valid_png_of_the_asked_size():
    pixels = bytearray(b"\x10\x20\x30" * 7 * 5)
    data = png_bytes(7, 5, pixels)
    width, height, colours, _rows = decode(data)
    assert (width, height) == (7, 5)
    assert colours == {(0x10, 0x20, 0x30)}
    with pytest.raises(ValueError):
        png_bytes(7, 5, pixels[:-1])


@pytest.fixture
def record(personas, settings):
    settings.PUBLIC_SITE = True
    p = personas
    published = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        state_response=StateResponse.ACCEPTED,
    )
    services.publish_assessment(published, reviewer=p.carol)
    # Never public: a submitted assessment saying "regressed" and "rejected".
    p.pending = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        implementation_status=ImplementationStatus.REGRESSED,
        state_response=StateResponse.REJECTED,
    )
    return p


def _png(client: Client, code: str, prefix: str = ""):
    response = client.get(f"{prefix}/public/recommendations/{code}/status.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    return response, decode(response.content)


def test_status_png_is_1200_by_630_and_shows_the_published_status_only(record):
    _response, (width, height, colours, _rows) = _png(Client(), record.rec.code)
    assert (width, height) == (1200, 630)
    partially, accepted = BADGE_COLOURS["partially_implemented"], BADGE_COLOURS["accepted"]
    for colour in (*partially, *accepted):
        assert _rgb(colour) in colours, colour
    # The submitted assessment's statuses are not the public's: their colours are nowhere.
    for value in ("regressed", "rejected"):
        assert _rgb(BADGE_COLOURS[value][1]) not in colours, value
    # Published, it shows.
    services.publish_assessment(record.pending, reviewer=record.carol)
    _response, (_w, _h, colours, _rows) = _png(Client(), record.rec.code)
    assert _rgb(BADGE_COLOURS["regressed"][1]) in colours
    assert _rgb(BADGE_COLOURS["rejected"][1]) in colours


def test_status_png_is_cacheable_and_answers_304(record):
    client = Client()
    response, _decoded = _png(client, record.rec.code)
    assert "public" in response["Cache-Control"] and "max-age=300" in response["Cache-Control"]
    assert not response.cookies
    again = client.get(
        f"/public/recommendations/{record.rec.code}/status.png", headers={"if-none-match": response["ETag"]}
    )
    assert again.status_code == 304


def test_status_png_is_the_same_picture_mirrored_right_to_left(record):
    _r, (_w, _h, _c, en_rows) = _png(Client(), record.rec.code)
    _r, (_w, _h, _c, ug_rows) = _png(Client(), record.rec.code, "/ug")
    row = en_rows[350]
    mirrored = b"".join(row[x : x + 3] for x in range(len(row) - 3, -1, -3))
    assert ug_rows[350] == mirrored != row


def test_status_png_is_404_when_the_site_is_off_or_the_code_unknown(record, settings):
    assert Client().get("/public/recommendations/NOPE/status.png").status_code == 404
    settings.PUBLIC_SITE = False
    assert Client().get(f"/public/recommendations/{record.rec.code}/status.png").status_code == 404


@pytest.mark.parametrize("page", ["assessment", "recommendation"])
def test_open_graph_and_twitter_image_point_to_the_png(record, page):
    published = record.rec.assessments.get(review_state="published")
    url = (
        f"/public/assessments/{published.pk}/"
        if page == "assessment"
        else f"/public/recommendations/{record.rec.code}/"
    )
    head = Client().get(url).content.decode().split("</head>")[0]
    meta = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">', head))
    image = f"http://testserver/public/recommendations/{record.rec.code}/status.png"
    assert meta["og:image"] == image
    assert meta["og:image:type"] == "image/png"
    assert meta["twitter:image"] == image
    assert meta["twitter:card"] == "summary_large_image"
