//! Images made to order: a phone photo carrying EXIF (its orientation and a GPS position)
//! and a script after its end, and PNGs that declare far more pixels than they hold. The
//! API tests and the re-encoder's unit tests (`src/domain/image/reencode/tests.rs`) share
//! them.

use image::{Rgb, RgbImage, codecs::jpeg::JpegEncoder};

/// Text inside the GPS IFD of [`phone_photo`]; no re-encoded image may hold it.
pub const GPS_MARKER: &[u8] = b"GPS 48.858370N 2.294481E";
/// What a polyglot hides after the image's end.
pub const SCRIPT: &[u8] = b"<?php system($_GET['c']); ?>";

/// A `width`×`height` JPEG, red in its top-left quarter and blue elsewhere, so that a test
/// sees which way it was turned.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let pixels = RgbImage::from_fn(width, height, |x, y| {
        if x < width / 2 && y < height / 2 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&pixels)
        .unwrap();
    out
}

/// An APP1 Exif segment (big-endian TIFF): IFD0 with the Orientation tag and a pointer to
/// a GPS IFD, which holds a latitude reference and [`GPS_MARKER`] as its processing method.
pub fn exif_segment(orientation: u16) -> Vec<u8> {
    let entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        [
            &tag.to_be_bytes()[..],
            &kind.to_be_bytes(),
            &count.to_be_bytes(),
            &value,
        ]
        .concat()
    };
    let [o1, o2] = orientation.to_be_bytes();
    // TIFF header (8 bytes), IFD0 at 8 (2 + 2×12 + 4 = 30 bytes), GPS IFD at 38 (30 bytes),
    // the marker at 68.
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend(entry(0x0112, 3, 1, [o1, o2, 0, 0]));
    tiff.extend(entry(0x8825, 4, 1, 38u32.to_be_bytes()));
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend(entry(0x0001, 2, 2, *b"N\0\0\0"));
    let count = u32::try_from(GPS_MARKER.len()).unwrap();
    tiff.extend(entry(0x001B, 7, count, 68u32.to_be_bytes()));
    tiff.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(tiff.len(), 68);
    tiff.extend_from_slice(GPS_MARKER);
    let payload = [&b"Exif\0\0"[..], &tiff].concat();
    let len = u16::try_from(payload.len() + 2).unwrap();
    [&[0xFF, 0xE1][..], &len.to_be_bytes(), &payload].concat()
}

/// A phone photo as it arrives: [`jpeg`] with [`exif_segment`] right after its start of
/// image, and [`SCRIPT`] after its end.
pub fn phone_photo(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let jpeg = jpeg(width, height);
    [&jpeg[..2], &exif_segment(orientation), &jpeg[2..], SCRIPT].concat()
}

/// A PNG chunk: length, type, data and the CRC of type and data.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).unwrap();
    let crc = crc32(&[&kind[..], data].concat());
    [&len.to_be_bytes()[..], kind, data, &crc.to_be_bytes()].concat()
}

/// A PNG of about a hundred bytes that declares `width`×`height` RGBA pixels (its image
/// data is an empty zlib stream: nothing gets that far).
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let header = [
        &width.to_be_bytes()[..],
        &height.to_be_bytes(),
        &[8, 6, 0, 0, 0],
    ]
    .concat();
    let empty_zlib = [
        0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01,
    ];
    [
        &b"\x89PNG\r\n\x1a\n"[..],
        &png_chunk(b"IHDR", &header),
        &png_chunk(b"IDAT", &empty_zlib),
        &png_chunk(b"IEND", &[]),
    ]
    .concat()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
