"""load_image: every input kind and pixel format -> uint8 RGB (H, W, 3); errors; resize_max; save_image."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from conftest import user_message
from PIL import Image

from export3d.errors import FaceInputError, UnreadableImageError
from export3d.media.image import BACKGROUND_RGB, as_rgb_uint8, load_image, resize_max, save_image


def check_rgb(a: np.ndarray, h: int, w: int) -> np.ndarray:
    assert isinstance(a, np.ndarray)
    assert a.dtype == np.uint8 and a.shape == (h, w, 3) and a.flags.c_contiguous
    return a


def gradient(h: int = 24, w: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 90)], -1).astype(np.uint8)


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


# ----------------------------------------------------------------------------- sources


def test_path_bytes_pil_and_array_agree(tmp_path):
    rgb = gradient()
    path = tmp_path / "g.png"
    Image.fromarray(rgb).save(path)
    for source in (path, str(path), path.read_bytes(), bytearray(path.read_bytes()), Image.fromarray(rgb), rgb):
        np.testing.assert_array_equal(check_rgb(load_image(source), 24, 32), rgb)


def test_non_contiguous_array_becomes_contiguous():
    rgb = gradient()
    out = check_rgb(load_image(rgb[:, ::-1]), 24, 32)
    np.testing.assert_array_equal(out, rgb[:, ::-1])
    bgr_view = rgb[..., ::-1]
    check_rgb(load_image(bgr_view), 24, 32)


def test_jpeg_file(tmp_path):
    rgb = gradient()
    path = tmp_path / "g.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    assert np.abs(check_rgb(load_image(path), 24, 32).astype(int) - rgb).mean() < 3


# ----------------------------------------------------------------------------- pixel formats


def test_grayscale_modes():
    grey = np.arange(24 * 32, dtype=np.uint8).reshape(24, 32)
    for source in (Image.fromarray(grey, "L"), grey, grey[:, :, None], png_bytes(Image.fromarray(grey, "L"))):
        out = check_rgb(load_image(source), 24, 32)
        for c in range(3):
            np.testing.assert_array_equal(out[..., c], grey)
    bw = Image.fromarray(grey > 100)  # mode "1"
    assert bw.mode == "1"
    out = check_rgb(load_image(bw), 24, 32)
    assert set(np.unique(out)) == {0, 255}


def test_alpha_is_composited_over_mid_grey():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (200, 40, 0)
    rgba[..., 3] = [[255, 0, 128], [255, 255, 0]]
    bg = np.array(BACKGROUND_RGB)
    expected = np.rint(rgba[..., :3] * (rgba[..., 3:] / 255.0) + bg * (1 - rgba[..., 3:] / 255.0))
    for source in (rgba, Image.fromarray(rgba, "RGBA"), png_bytes(Image.fromarray(rgba, "RGBA"))):
        out = check_rgb(load_image(source), 2, 3)
        np.testing.assert_allclose(out, expected, atol=1)
    assert tuple(load_image(rgba)[0, 1]) == BACKGROUND_RGB  # fully transparent -> the background


def test_grey_alpha_la_and_pa():
    la = np.zeros((2, 2, 2), np.uint8)
    la[..., 0] = 250
    la[..., 1] = [[255, 0], [255, 0]]
    for source in (la, Image.fromarray(la, "LA")):
        out = check_rgb(load_image(source), 2, 2)
        assert tuple(out[0, 0]) == (250, 250, 250) and tuple(out[0, 1]) == BACKGROUND_RGB
    pa = Image.new("PA", (2, 1))
    pa.putpalette([10, 20, 30] * 256)
    pa.putpixel((0, 0), (0, 255))
    pa.putpixel((1, 0), (0, 0))
    out = check_rgb(load_image(pa), 1, 2)
    assert tuple(out[0, 0]) == (10, 20, 30) and tuple(out[0, 1]) == BACKGROUND_RGB


def test_palette_images_with_and_without_transparency():
    rgb = gradient()
    p = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    np.testing.assert_array_equal(check_rgb(load_image(p), 24, 32), np.asarray(p.convert("RGB")))
    q = Image.new("P", (2, 1))
    q.putpalette([255, 0, 0, 0, 0, 255] + [0] * (254 * 3))
    q.putpixel((0, 0), 0)
    q.putpixel((1, 0), 1)
    transparent = Image.open(io.BytesIO(png_bytes(q, transparency=1)))  # in-memory: nothing to close
    assert transparent.mode == "P" and "transparency" in transparent.info
    out = check_rgb(load_image(transparent), 1, 2)
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[0, 1]) == BACKGROUND_RGB


def test_cmyk():
    cmyk = Image.new("CMYK", (4, 3), (0, 255, 255, 0))  # full magenta + yellow = red
    out = check_rgb(load_image(cmyk), 3, 4)
    assert tuple(out[0, 0]) == (255, 0, 0)
    buf = io.BytesIO()
    Image.new("CMYK", (8, 8), (255, 0, 0, 0)).save(buf, format="JPEG", quality=95)  # cyan
    out = check_rgb(load_image(buf.getvalue()), 8, 8)
    assert out[..., 0].mean() < 30 and out[..., 1].mean() > 220 and out[..., 2].mean() > 220


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L", "I"])
def test_16_bit_grey_is_scaled_not_clipped(mode):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)  # 8-bit 0, 1, 128, 255
    if mode == "I":
        img = Image.fromarray(values.astype(np.int32), "I")
    else:
        img = Image.new(mode, (4, 1))
        for x, v in enumerate(values[0]):
            img.putpixel((x, 0), int(v))
    assert img.mode == mode
    out = check_rgb(load_image(img), 1, 4)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_16_bit_png_file(tmp_path):
    values = (np.arange(24 * 32).reshape(24, 32) * 85).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I")
    out = check_rgb(load_image(path), 24, 32)
    np.testing.assert_array_equal(out[..., 1], np.rint(values / 257.0).astype(np.uint8))


def test_16_bit_rgb_and_rgba_png_files(tmp_path):
    import cv2

    bgra = np.zeros((2, 2, 4), np.uint16)  # OpenCV writes BGR(A) order
    bgra[0, 0] = (257, 32896, 65535, 65535)
    cv2.imwrite(str(tmp_path / "rgb48.png"), bgra[..., :3])
    cv2.imwrite(str(tmp_path / "rgba64.png"), bgra)
    for name in ("rgb48.png", "rgba64.png"):
        out = check_rgb(load_image(tmp_path / name), 2, 2)
        assert tuple(out[0, 0]) == (255, 128, 1)
    assert tuple(load_image(tmp_path / "rgba64.png")[1, 1]) == BACKGROUND_RGB  # alpha 0


def test_16_bit_rgb_and_other_array_dtypes():
    rgb16 = np.zeros((2, 2, 3), np.uint16)
    rgb16[0, 0] = (65535, 32896, 0)
    out = check_rgb(load_image(rgb16), 2, 2)
    assert tuple(out[0, 0]) == (255, 128, 0)
    f = np.array([[[0.0, 0.5, 1.0]], [[-0.2, 1.7, np.nan]]])
    np.testing.assert_array_equal(load_image(f)[:, 0], [[0, 128, 255], [0, 255, 0]])
    assert tuple(load_image(np.ones((1, 1), bool))[0, 0]) == (255, 255, 255)
    ints = np.array([[[10, 20, 30]]], dtype=np.int64)  # small ints: 8-bit
    assert tuple(load_image(ints)[0, 0]) == (10, 20, 30)
    ints16 = np.array([[[65535, 0, 257]]], dtype=np.int32)  # up to 65535: 16-bit
    assert tuple(load_image(ints16)[0, 0]) == (255, 0, 1)
    rgba16 = np.full((1, 1, 4), 65535, np.uint16)
    assert tuple(load_image(rgba16)[0, 0]) == (255, 255, 255)


def test_bad_array_shapes():
    for bad in (np.zeros((4, 4, 5), np.uint8), np.zeros(7, np.uint8), np.zeros((0, 4, 3), np.uint8)):
        with pytest.raises(UnreadableImageError):
            load_image(bad)
    with pytest.raises(UnreadableImageError, match="range"):
        load_image(np.array([[-5, 70000]]))
    with pytest.raises(TypeError):
        load_image(12345)


def test_exif_orientation_is_applied(tmp_path):
    # Stored landscape 40x20 with the left half red; orientation 6 = "rotate 90 deg clockwise to view".
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    out = check_rgb(load_image(path), 40, 20)  # upright: portrait
    assert out[:15, :, 0].mean() > 200 and out[:15, :, 2].mean() < 50  # left half is now the top
    assert out[-15:, :, 2].mean() > 200


def test_broken_exif_is_ignored(tmp_path):
    path = tmp_path / "bad_exif.jpg"
    Image.fromarray(gradient()).save(path, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's "Corrupt EXIF data" warning must not leak
        check_rgb(load_image(path), 24, 32)


# ----------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableImageError, match="not found") as e:
        load_image(tmp_path / "missing.jpg")
    assert "missing.jpg" in user_message(e)
    assert isinstance(e.value, FaceInputError) and isinstance(e.value, ValueError)


@pytest.mark.parametrize(
    "name, data",
    [
        ("empty.jpg", b""),
        ("notes.jpg", b"hello, this is text and not a picture\n" * 10),
        ("noise.png", bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8))),
        ("cut.png", None),  # a truncated PNG
        ("cut.jpg", None),  # a truncated JPEG
    ],
)
def test_unreadable_files(tmp_path, name, data):
    if data is None:
        buf = io.BytesIO()
        rng = np.random.default_rng(1)
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
            buf, format="PNG" if name.endswith("png") else "JPEG"
        )
        data = buf.getvalue()[: len(buf.getvalue()) // 2]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableImageError) as e:
        load_image(path)
    msg = user_message(e)
    assert name in msg
    if data:
        assert "not an image we can read" in msg and e.value.__cause__ is not None
    else:
        assert "empty" in msg
    with pytest.raises(UnreadableImageError):
        load_image(data)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(UnreadableImageError, match="folder"):
        load_image(tmp_path)


def test_max_pixels(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (50, 40)).save(path)
    with pytest.raises(UnreadableImageError, match="too large") as e:
        load_image(path, max_pixels=1000)
    user_message(e)
    with pytest.raises(UnreadableImageError, match="too large"):
        load_image(np.zeros((40, 50, 3), np.uint8), max_pixels=1000)
    check_rgb(load_image(path, max_pixels=None), 40, 50)


def test_pillow_decompression_bomb_warning_does_not_leak(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    warn = tmp_path / "warn.png"
    Image.new("RGB", (40, 40)).save(warn)  # 1600 px: above Pillow's limit -> it would warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_rgb(load_image(warn), 40, 40)
    bomb = tmp_path / "bomb.png"
    Image.new("RGB", (60, 50)).save(bomb)  # 3000 px > 2x the limit: Pillow refuses
    with pytest.raises(UnreadableImageError, match="too large") as e:
        load_image(bomb)
    user_message(e)


# ----------------------------------------------------------------------------- resize / save


def test_resize_max_downscales_with_area_averaging():
    checker = (np.indices((200, 400)).sum(0) % 2 * 255).astype(np.uint8)
    img = np.repeat(checker[:, :, None], 3, axis=2)
    out, scale = resize_max(img, 100)
    assert out.shape == (50, 100, 3) and scale == pytest.approx(0.25)
    assert np.abs(out.astype(int) - 127.5).max() <= 1  # averaged, not aliased
    same, s = resize_max(img, 400)
    assert same is img and s == 1.0
    tall, s = resize_max(np.zeros((300, 30), np.uint8), 100)
    assert tall.shape == (100, 10) and s == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        resize_max(img, 0)


def test_save_image_roundtrip(tmp_path):
    rgb = gradient()
    p = save_image(tmp_path / "sub" / "out.png", rgb)
    np.testing.assert_array_equal(load_image(p), rgb)
    j = save_image(tmp_path / "out.jpg", Image.fromarray(rgb))
    assert np.abs(load_image(j).astype(int) - rgb).mean() < 3


def test_as_rgb_uint8_returns_input_when_already_canonical():
    rgb = gradient()
    assert as_rgb_uint8(rgb) is rgb


# ----------------------------------------------------------------------------- unsupported image types

SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- a drawing -->\n'
       b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="20"/></svg>\n')
SUPPORTED = ".avif, .bmp, .gif, .jpeg, .jpg, .png, .tif, .tiff, .webp"  # Pillow 12 without a HEIC plugin


def supported_list(msg: str) -> list[str]:
    assert "Supported image files: " in msg and msg.endswith(".")
    return msg.split("Supported image files: ", 1)[1][:-1].split(", ")


@pytest.mark.parametrize("name", ["face.svg", "face.png", "face"])  # SVG by content, whatever the name says
def test_svg_is_not_a_supported_image_type(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(SVG)
    with pytest.raises(UnreadableImageError) as e:
        load_image(path)
    msg = user_message(e)
    assert msg.startswith(f"This file is not a supported image type (SVG): {name}. Supported image files: ")
    assert "corrupt" not in msg and e.value.__cause__ is not None
    with pytest.raises(UnreadableImageError) as e:
        load_image(SVG)
    msg = user_message(e)
    assert msg.startswith("The uploaded data is not a supported image type (SVG). ") and "corrupt" not in msg


def test_the_supported_list_is_what_load_image_reads(tmp_path):
    from export3d.media.kind import IMAGE_SUFFIXES

    path = tmp_path / "face.svg"
    path.write_bytes(SVG)
    with pytest.raises(UnreadableImageError) as e:
        load_image(path)
    listed = supported_list(user_message(e))
    assert listed == sorted(listed) and {".jpg", ".jpeg", ".png", ".webp"} <= set(listed) <= IMAGE_SUFFIXES
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        assert ", ".join(listed) == SUPPORTED  # .heic is an image suffix, but Pillow alone cannot read it
    rgb = gradient(8, 12)
    for suffix in listed:  # every listed type really loads: written by Pillow, read back by load_image
        f = tmp_path / f"x{suffix}"
        Image.fromarray(rgb).save(f)
        assert load_image(f).shape == (8, 12, 3), suffix


def test_other_unreadable_types_are_named_by_their_suffix(tmp_path):
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 200)
    with pytest.raises(UnreadableImageError) as e:
        load_image(pdf)
    msg = user_message(e)
    assert msg.startswith("This file is not a supported image type (PDF): scan.pdf. ") and "corrupt" not in msg
    # Junk behind a suffix we do read stays "corrupt": the type is right, the content is not.
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(b"<html><body>not a photo</body></html>")
    with pytest.raises(UnreadableImageError, match="may be corrupt or empty"):
        load_image(junk)
