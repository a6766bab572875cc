use ::image::{GenericImageView, ImageReader};

use super::*;

#[path = "../../../../tests/api/crafted.rs"]
mod crafted;

use crafted::{GPS_MARKER, SCRIPT, contains, phone_photo, png_bomb, png_chunk};

const PNG: &[u8] = include_bytes!("../../../../tests/fixtures/avatar.png");
const JPEG: &[u8] = include_bytes!("../../../../tests/fixtures/avatar.jpg");
const WEBP: &[u8] = include_bytes!("../../../../tests/fixtures/avatar.webp");
const WEBP_LOSSLESS: &[u8] = include_bytes!("../../../../tests/fixtures/avatar-lossless.webp");

/// Decodes what `reencode` wrote, as any client would.
fn decoded(bytes: &[u8]) -> DynamicImage {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap()
}

#[test]
fn a_phone_photo_loses_its_exif_and_its_tail_and_is_turned_upright() {
    let photo = phone_photo(64, 48, 6);
    assert!(contains(&photo, GPS_MARKER) && contains(&photo, SCRIPT));

    let out = reencode(&photo).unwrap();

    assert_eq!(out.format, ImageFormat::Jpeg);
    assert_eq!((out.width, out.height), (48, 64));
    for kept in [&b"Exif\0\0"[..], GPS_MARKER, b"GPS", SCRIPT, b"<?php"] {
        assert!(!contains(&out.bytes, kept), "{:?} survived", kept);
    }
    assert!(out.bytes.ends_with(&[0xFF, 0xD9]));
    let pixels = decoded(&out.bytes);
    assert_eq!(pixels.dimensions(), (48, 64));
    // Orientation 6 turns the picture a quarter clockwise: the red top-left quarter is now
    // top-right.
    let red = |x, y| {
        let [r, _, b, _] = pixels.get_pixel(x, y).0;
        r > 200 && b < 60
    };
    assert!(red(40, 8), "top-right is not red");
    assert!(!red(8, 8), "top-left is still red");
}

#[test]
fn an_upright_photo_keeps_its_dimensions() {
    let out = reencode(&phone_photo(64, 48, 1)).unwrap();
    assert_eq!((out.width, out.height), (64, 48));
    assert_eq!(decoded(&out.bytes).dimensions(), (64, 48));
}

#[test]
fn png_text_chunks_and_tails_are_dropped_and_webp_becomes_png() {
    let secret = b"Comment\0home address: 1 Secret Lane";
    let iend = PNG.len() - 12;
    let with_text = [
        &PNG[..iend],
        &png_chunk(b"tEXt", secret),
        &PNG[iend..],
        SCRIPT,
    ]
    .concat();
    for (bytes, uploaded) in [
        (with_text.as_slice(), ImageFormat::Png),
        (JPEG, ImageFormat::Jpeg),
        (WEBP, ImageFormat::WebP),
        (WEBP_LOSSLESS, ImageFormat::WebP),
    ] {
        let out = reencode(bytes).unwrap();
        let stored = if uploaded == ImageFormat::Jpeg {
            ImageFormat::Jpeg
        } else {
            ImageFormat::Png
        };
        assert_eq!(out.format, stored, "{uploaded:?}");
        assert_eq!((out.width, out.height), (16, 12), "{uploaded:?}");
        assert_eq!(detect(&out.bytes).unwrap().format, stored);
        assert_eq!(decoded(&out.bytes).dimensions(), (16, 12));
        assert!(!contains(&out.bytes, b"Secret Lane") && !contains(&out.bytes, SCRIPT));
    }
}

#[test]
fn a_decompression_bomb_is_refused_before_its_pixels_are_allocated() {
    // 8192×8192 RGBA is 256 MiB of pixels from about a hundred bytes.
    let bomb = png_bomb(8192, 8192);
    assert!(bomb.len() < 200);
    assert_eq!(reencode(&bomb), Err(ImageError::TooManyPixels));
    // Just within the bound it is judged on its (missing) pixels instead.
    assert_eq!(reencode(&png_bomb(4096, 4096)), Err(ImageError::Corrupt));
    assert_eq!(
        reencode(&png_bomb(MAX_SIDE + 1, 1)),
        Err(ImageError::TooLarge)
    );
}

#[test]
fn what_detect_refuses_is_refused_the_same_way() {
    assert_eq!(reencode(b"GIF89a...."), Err(ImageError::UnknownFormat));
    assert_eq!(reencode(&PNG[..PNG.len() - 5]), Err(ImageError::Corrupt));
    assert_eq!(reencode(&JPEG[..JPEG.len() / 2]), Err(ImageError::Corrupt));
}
