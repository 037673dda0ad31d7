"""What a file's bytes really are (kb.documents.files) and what is left of an upload once its
metadata is removed (kb.documents.uploads), on real images made with Pillow."""
from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from kb.core.config import Settings
from kb.core.errors import ConfigError, FileProblem
from kb.documents import files, uploads


def image_bytes(fmt: str, size=(40, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_gps(size=(64, 32), orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Phone maker"                  # Make
    exif[0x0112] = orientation                    # Orientation
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)}   # GPS position
    return image_bytes("JPEG", size, exif=exif.tobytes(), comment=b"taken at the customer's office")


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="10" height="10"/></svg>'


@pytest.mark.parametrize("name, data, kind, mime, dims", [
    ("shot.png", image_bytes("PNG"), "image", "image/png", (40, 30)),
    ("shot.jpg", image_bytes("JPEG"), "image", "image/jpeg", (40, 30)),
    ("shot.JPEG", image_bytes("JPEG"), "image", "image/jpeg", (40, 30)),
    ("anim.gif", image_bytes("GIF"), "image", "image/gif", (40, 30)),
    ("shot.webp", image_bytes("WEBP"), "image", "image/webp", (40, 30)),
    ("shot.avif", image_bytes("AVIF"), "image", "image/avif", (40, 30)),
    ("diagram.svg", SVG, "image", "image/svg+xml", (120, 40)),
    ("boxed.svg", b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 150"/>', "image", "image/svg+xml",
     (300, 150)),
    ("form.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "attachment", "application/pdf", (0, 0)),
    ("fix.reg", "Windows Registry Editor Version 5.00\r\n".encode("utf-16"), "attachment", "text/plain", (0, 0)),
    ("sample.log", "2026-03-01 ERROR 809 \u8fde\u63a5\u5931\u8d25\n".encode(), "attachment", "text/plain", (0, 0)),
    ("logs.zip", b"PK\x05\x06" + b"\0" * 18, "attachment", "application/zip", (0, 0)),
])
def test_files_are_what_their_names_say(name, data, kind, mime, dims):
    info = files.inspect(name, data)
    assert (info.kind, info.mime, info.size, (info.width, info.height)) == (kind, mime, len(data), dims)


@pytest.mark.parametrize("name, data, says", [
    ("shot.png", b"<!doctype html><script>alert(1)</script>", "not PNG as .png says (they look like HTML)"),
    ("shot.jpg", image_bytes("PNG"), "not JPEG as .jpg says (they look like a PNG image)"),
    ("shot.png", image_bytes("PNG")[:20], "the PNG image is damaged"),
    ("form.pdf", b"just words", "not PDF as .pdf says (they look like text)"),
    ("notes.txt", b"<html><body>hi</body></html>", "the bytes are HTML"),
    ("notes.txt", b"\x00\x01\x02binary", "not text as .txt says"),
    ("run.exe", b"MZ\x90\x00", ".exe is not an allowed file type"),
    ("README", b"text", "a file without an extension is not an allowed file type"),
    ("a.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "<script> element"),
    ("a.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><rect onclick="alert(1)"/></svg>', "event handler (onclick="),
    ("a.svg", b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink">'
              b'<a x:href="javascript:alert(1)"><text>t</text></a></svg>', "links to script"),
    ("a.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>',
     "<foreignobject> element"),
    ("a.svg", b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa">]><svg>&a;</svg>', "declares XML entities"),
    ("a.svg", b"<html><body/></html>", "not SVG as .svg says"),
])
def test_files_that_are_not_what_they_say_are_refused(name, data, says):
    with pytest.raises(FileProblem) as e:
        files.inspect(name, data)
    assert says in str(e.value)


def test_the_allow_list_and_the_size_cap_come_from_settings():
    s = Settings.load({"KB_FILE_TYPES": "png, .PDF", "KB_FILE_MAX_MB": "0.001"})
    assert s.file_types == ("png", "pdf") and s.file_max_bytes == 1048
    with pytest.raises(FileProblem, match=r"\.svg is not an allowed file type \(KB_FILE_TYPES: png, pdf\)"):
        files.inspect("d.svg", SVG, s.file_types, s.file_max_bytes)
    with pytest.raises(FileProblem, match=r"over the 1.0 KB limit \(KB_FILE_MAX_MB\)"):
        files.inspect("big.png", image_bytes("PNG", (400, 400)) + b"\0" * 2000, s.file_types, s.file_max_bytes)
    with pytest.raises(ConfigError, match="KB_FILE_TYPES: kb cannot check files of type 'exe'"):
        Settings.load({"KB_FILE_TYPES": "png,exe"})
    with pytest.raises(ConfigError, match="KB_FILE_MAX_MB: expected a number"):
        Settings.load({"KB_FILE_MAX_MB": "ten"})


def test_an_uploaded_photo_loses_its_exif_gps_and_comment_and_keeps_its_orientation():
    raw = jpeg_with_gps((64, 32), orientation=6)          # 6: turn 90° to stand upright
    assert Image.open(io.BytesIO(raw)).getexif().get(0x8825)
    clean = uploads.clean_image("IMG 0042.JPG", raw, 10 << 20)
    im = Image.open(io.BytesIO(clean.data))
    assert (clean.name, clean.mime, im.format) == ("img-0042.jpg", "image/jpeg", "JPEG")
    assert dict(im.getexif()) == {} and "comment" not in im.info and "exif" not in im.info
    assert (clean.width, clean.height) == im.size == (32, 64)
    assert b"Phone maker" not in clean.data and b"customer's office" not in clean.data


def test_png_text_chunks_and_gif_comments_are_removed_and_frames_kept():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "jane.doe@example.com")
    png = image_bytes("PNG", pnginfo=info)
    clean = uploads.clean_image("screen.png", png, 10 << 20)
    assert b"jane.doe" not in clean.data and Image.open(io.BytesIO(clean.data)).info.get("Author") is None
    frames = [Image.new("RGB", (8, 8), (i * 80, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], comment=b"secret", duration=50)
    clean = uploads.clean_image("steps.gif", out.getvalue(), 10 << 20)
    im = Image.open(io.BytesIO(clean.data))
    assert im.n_frames == 3 and "comment" not in im.info and b"secret" not in clean.data


@pytest.mark.parametrize("name, data, says", [
    ("x.png", b"<html>not an image</html>", "is not a readable image"),
    ("x.svg", SVG, "only PNG, JPEG, GIF and WebP"),
    ("x.png", image_bytes("PNG", (300, 300)) + b"\0" * 4096, "over the 3.1 KB limit"),
])
def test_uploads_that_are_not_real_images_or_too_large_are_refused(name, data, says):
    with pytest.raises(FileProblem, match=says):
        uploads.clean_image(name, data, 3200)
