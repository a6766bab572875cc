//! Recognising an uploaded image by its content: PNG, JPEG or WebP, judged by the magic
//! bytes, a header that decodes (dimensions, and the CRC of PNG's header chunk), and an
//! intact end, whatever the file is called; and writing it out again from its pixels alone
//! ([`reencode`]), so nothing but the picture is ever stored.

mod reencode;

pub use reencode::{MAX_DECODED_BYTES, Reencoded, reencode};

/// The image formats accepted as avatars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    WebP,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::WebP => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::WebP => "image/webp",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "png" => Some(Self::Png),
            "jpg" => Some(Self::Jpeg),
            "webp" => Some(Self::WebP),
            _ => None,
        }
    }
}

/// What was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// Where the image ends: bytes after it (a polyglot's script, a camera's trailer) are
    /// no part of it.
    pub len: usize,
}

/// Largest side accepted, in pixels.
pub const MAX_SIDE: u32 = 8192;

/// Why bytes are not an acceptable image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("not a PNG, JPEG or WebP image")]
    UnknownFormat,
    #[error("the image is damaged or incomplete")]
    Corrupt,
    #[error("the image is larger than {MAX_SIDE}×{MAX_SIDE} pixels")]
    TooLarge,
    #[error("the image has more pixels than an avatar may (at most {} MiB decoded, such as \
             4096×4096 with transparency)", MAX_DECODED_BYTES / (1024 * 1024))]
    TooManyPixels,
    /// Ours, not the upload's: the decoded pixels could not be written out again.
    #[error("the image could not be written out again")]
    Unwritable,
}

/// Recognises `bytes` as one of the accepted formats.
///
/// # Errors
/// When it is none of them, or is damaged, truncated or absurdly large.
pub fn detect(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let ((width, height, len), format) = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        (png(bytes)?, ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        (jpeg(bytes)?, ImageFormat::Jpeg)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        (webp(bytes)?, ImageFormat::WebP)
    } else {
        return Err(ImageError::UnknownFormat);
    };
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt);
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::TooLarge);
    }
    Ok(ImageInfo {
        format,
        width,
        height,
        len,
    })
}

fn be32(b: &[u8], at: usize) -> Result<u32, ImageError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(ImageError::Corrupt)
}

fn le32(b: &[u8], at: usize) -> Result<u32, ImageError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(ImageError::Corrupt)
}

fn be16(b: &[u8], at: usize) -> Result<u32, ImageError> {
    b.get(at..at + 2)
        .map(|s| u32::from(u16::from_be_bytes([s[0], s[1]])))
        .ok_or(ImageError::Corrupt)
}

/// CRC-32 (IEEE 802.3), as PNG chunks carry it.
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

/// Width, height and the end of the IEND chunk.
fn png(b: &[u8]) -> Result<(u32, u32, usize), ImageError> {
    // Signature, then IHDR: length 13, type, 13 bytes of data, CRC over type and data.
    if be32(b, 8)? != 13 || b.get(12..16) != Some(b"IHDR") {
        return Err(ImageError::Corrupt);
    }
    let chunk = b.get(12..29).ok_or(ImageError::Corrupt)?;
    if crc32(chunk) != be32(b, 29)? {
        return Err(ImageError::Corrupt);
    }
    let bit_depth = b[24];
    if !matches!(bit_depth, 1 | 2 | 4 | 8 | 16) || b[25] > 6 {
        return Err(ImageError::Corrupt);
    }
    // A complete PNG ends with the IEND chunk: walk the chunks to it.
    let mut at = 8;
    loop {
        let len = usize::try_from(be32(b, at)?).map_err(|_| ImageError::Corrupt)?;
        let end = at
            .checked_add(12)
            .and_then(|n| n.checked_add(len))
            .filter(|&end| end <= b.len())
            .ok_or(ImageError::Corrupt)?;
        if b.get(at + 4..at + 8) == Some(b"IEND") {
            if b[at..end] != [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82] {
                return Err(ImageError::Corrupt);
            }
            return Ok((be32(b, 16)?, be32(b, 20)?, end));
        }
        at = end;
    }
}

/// Width, height and the end of the EOI marker, found by walking the segments and the
/// entropy-coded data of every scan (where a 0xFF byte is always followed by a stuffed 0x00
/// or a restart marker, so the first other marker ends the scan).
fn jpeg(b: &[u8]) -> Result<(u32, u32, usize), ImageError> {
    let mut size = None;
    let mut scanned = false;
    let mut at = 2;
    loop {
        if b.get(at) != Some(&0xFF) {
            return Err(ImageError::Corrupt);
        }
        while b.get(at) == Some(&0xFF) {
            at += 1;
        }
        let marker = *b.get(at).ok_or(ImageError::Corrupt)?;
        at += 1;
        match marker {
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            // End of image: complete only after a frame header and a scan.
            0xD9 => {
                return match size {
                    Some((w, h)) if scanned => Ok((w, h, at)),
                    _ => Err(ImageError::Corrupt),
                };
            }
            // Start of scan before any frame header: no dimensions.
            0xDA if size.is_none() => return Err(ImageError::Corrupt),
            _ => {}
        }
        let len = usize::try_from(be16(b, at)?).map_err(|_| ImageError::Corrupt)?;
        if len < 2 {
            return Err(ImageError::Corrupt);
        }
        // Start of frame (baseline, progressive, …), but not DHT, JPG or DAC.
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) && size.is_none()
        {
            size = Some((be16(b, at + 5)?, be16(b, at + 3)?));
        }
        at += len;
        if marker == 0xDA {
            scanned = true;
            at = end_of_scan(b, at)?;
        }
    }
}

/// Where the entropy-coded data starting at `at` ends: at the next marker that is neither a
/// stuffed byte nor a restart marker.
fn end_of_scan(b: &[u8], mut at: usize) -> Result<usize, ImageError> {
    loop {
        let ff = at
            + b.get(at..)
                .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
                .ok_or(ImageError::Corrupt)?;
        match b.get(ff + 1) {
            Some(0x00 | 0xD0..=0xD7) => at = ff + 2,
            Some(_) => return Ok(ff),
            None => return Err(ImageError::Corrupt),
        }
    }
}

/// Width, height and the end of the RIFF container.
fn webp(b: &[u8]) -> Result<(u32, u32, usize), ImageError> {
    // The RIFF size counts everything after its own 8 bytes: a cut file is shorter.
    let riff = usize::try_from(le32(b, 4)?).map_err(|_| ImageError::Corrupt)?;
    let end = riff
        .checked_add(8)
        .filter(|&end| end <= b.len())
        .ok_or(ImageError::Corrupt)?;
    let (w, h) = webp_size(&b[..end])?;
    Ok((w, h, end))
}

fn webp_size(b: &[u8]) -> Result<(u32, u32), ImageError> {
    let data = b.get(20..).ok_or(ImageError::Corrupt)?;
    match b.get(12..16).ok_or(ImageError::Corrupt)? {
        b"VP8 " => {
            // Frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height.
            if data.get(3..6) != Some(&[0x9D, 0x01, 0x2A]) {
                return Err(ImageError::Corrupt);
            }
            let dims = data.get(6..10).ok_or(ImageError::Corrupt)?;
            let w = u32::from(u16::from_le_bytes([dims[0], dims[1]]) & 0x3FFF);
            let h = u32::from(u16::from_le_bytes([dims[2], dims[3]]) & 0x3FFF);
            Ok((w, h))
        }
        b"VP8L" => {
            if data.first() != Some(&0x2F) {
                return Err(ImageError::Corrupt);
            }
            let bits = le32(data, 1)?;
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            let w = le32(data, 3)? & 0x00FF_FFFF;
            let h = le32(data, 6)? & 0x00FF_FFFF;
            Ok((w + 1, h + 1))
        }
        _ => Err(ImageError::Corrupt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../../tests/fixtures/avatar.png");
    const JPEG: &[u8] = include_bytes!("../../tests/fixtures/avatar.jpg");
    const WEBP: &[u8] = include_bytes!("../../tests/fixtures/avatar.webp");
    const WEBP_LOSSLESS: &[u8] = include_bytes!("../../tests/fixtures/avatar-lossless.webp");

    #[test]
    fn real_images_are_recognised_with_their_size() {
        for (bytes, format) in [
            (PNG, ImageFormat::Png),
            (JPEG, ImageFormat::Jpeg),
            (WEBP, ImageFormat::WebP),
            (WEBP_LOSSLESS, ImageFormat::WebP),
        ] {
            let info = detect(bytes).unwrap();
            assert_eq!(info.format, format);
            assert_eq!((info.width, info.height), (16, 12), "{format:?}");
        }
    }

    #[test]
    fn truncated_images_are_refused() {
        for bytes in [PNG, JPEG, WEBP, WEBP_LOSSLESS] {
            let cut = &bytes[..bytes.len() - 5];
            assert_eq!(detect(cut), Err(ImageError::Corrupt));
            assert!(detect(&bytes[..20]).is_err());
        }
    }

    #[test]
    fn headers_cut_right_after_their_markers_are_refused_not_panicked_on() {
        let mut vp8 =
            b"RIFF\x12\x00\x00\x00WEBPVP8 \x00\x00\x00\x00\x00\x00\x00\x9d\x01\x2a".to_vec();
        assert_eq!(vp8.len(), 26);
        assert_eq!(detect(&vp8), Err(ImageError::Corrupt));
        vp8.truncate(20);
        vp8[4] = 12;
        assert_eq!(detect(&vp8), Err(ImageError::Corrupt));
        let vp8l = b"RIFF\x0d\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f";
        assert_eq!(detect(vp8l), Err(ImageError::Corrupt));
        let vp8x = b"RIFF\x0e\x00\x00\x00WEBPVP8X\x00\x00\x00\x00\x00\x00";
        assert_eq!(detect(vp8x), Err(ImageError::Corrupt));
        // Every prefix of every real image is refused without a panic.
        for bytes in [PNG, JPEG, WEBP, WEBP_LOSSLESS] {
            for end in 0..bytes.len() {
                let _ = detect(&bytes[..end]);
            }
        }
    }

    #[test]
    fn bytes_after_the_image_end_are_no_part_of_it() {
        let tail = b"<?php echo 'hi'; ?>";
        for bytes in [PNG, JPEG, WEBP, WEBP_LOSSLESS] {
            let polyglot = [bytes, tail.as_slice()].concat();
            let info = detect(&polyglot).unwrap();
            assert_eq!(info.len, bytes.len());
            assert_eq!(info, detect(bytes).unwrap());
        }
        // A cut PNG or JPEG with a tail is still cut: its end marker is missing. (A cut
        // WebP's RIFF size may reach into the tail; its decoder judges the rest.)
        for bytes in [PNG, JPEG] {
            let cut = [&bytes[..bytes.len() - 5], tail.as_slice()].concat();
            assert_eq!(detect(&cut), Err(ImageError::Corrupt));
        }
    }

    #[test]
    fn a_damaged_png_header_is_refused() {
        let mut bad = PNG.to_vec();
        bad[17] ^= 0x40;
        assert_eq!(detect(&bad), Err(ImageError::Corrupt));
    }

    #[test]
    fn other_content_is_refused() {
        assert_eq!(detect(b"GIF89a........"), Err(ImageError::UnknownFormat));
        assert_eq!(
            detect(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Err(ImageError::UnknownFormat)
        );
        assert_eq!(detect(b""), Err(ImageError::UnknownFormat));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n"), Err(ImageError::Corrupt));
    }

    #[test]
    fn the_crc_is_ieee() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
