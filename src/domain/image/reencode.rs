//! Writing an accepted image out again from its decoded pixels alone. What an upload
//! carries besides its picture (EXIF with the GPS position of a phone photo, text chunks,
//! colour profiles, a script after the image's end) is not copied; the picture is turned
//! upright by its EXIF orientation first, since the orientation does not survive.
//!
//! CPU work: callers run it off the async runtime (see `media::reencoder`).

use std::io::Cursor;

use ::image::{
    DynamicImage, ImageDecoder, ImageReader, Limits,
    codecs::{jpeg::JpegEncoder, png::PngEncoder},
    error::LimitErrorKind,
    metadata::Orientation,
};

use super::{ImageError, ImageFormat, MAX_SIDE, detect};

/// Most bytes the decoded pixels of one image may take (a copy turned upright counts
/// again). 64 MiB holds a 4096×4096 image with transparency, or a 16-megapixel photo:
/// more than any avatar needs. [`MAX_SIDE`] alone would let an upload of a few hundred
/// bytes (one colour compresses to nothing) claim 8192×8192×4 = 256 MiB, times two to
/// turn it; this bound refuses that before anything is allocated.
pub const MAX_DECODED_BYTES: u64 = 64 * 1024 * 1024;

/// JPEG quality of a re-encoded photo: a second generation at 90 is not visibly worse.
const JPEG_QUALITY: u8 = 90;

/// An image written out again.
#[derive(Clone, PartialEq, Eq)]
pub struct Reencoded {
    pub format: ImageFormat,
    /// Upright: after the EXIF orientation was applied.
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Reencoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reencoded")
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// The format an accepted image is stored in. A JPEG stays a JPEG: a photo written as PNG
/// takes five to ten times the space, for every viewer to download. PNG stays PNG,
/// losslessly. WebP becomes PNG: the `image` crate writes lossless WebP only, and every
/// client shows PNG.
fn stored_format(uploaded: ImageFormat) -> ImageFormat {
    match uploaded {
        ImageFormat::Jpeg => ImageFormat::Jpeg,
        ImageFormat::Png | ImageFormat::WebP => ImageFormat::Png,
    }
}

/// Recognises `bytes` ([`detect`]), decodes the image within [`MAX_SIDE`] and
/// [`MAX_DECODED_BYTES`], turns it upright, and writes it out again as
/// [`stored_format`] says.
///
/// # Errors
/// As [`detect`]; [`ImageError::Corrupt`] when the pixels do not decode;
/// [`ImageError::TooManyPixels`] past [`MAX_DECODED_BYTES`]; [`ImageError::Unwritable`]
/// (not the upload's fault) when encoding fails.
pub fn reencode(bytes: &[u8]) -> Result<Reencoded, ImageError> {
    let info = detect(bytes)?;
    let mut reader = ImageReader::new(Cursor::new(&bytes[..info.len]))
        .with_guessed_format()
        .map_err(|_| ImageError::Corrupt)?;
    let guessed = match info.format {
        ImageFormat::Png => ::image::ImageFormat::Png,
        ImageFormat::Jpeg => ::image::ImageFormat::Jpeg,
        ImageFormat::WebP => ::image::ImageFormat::WebP,
    };
    if reader.format() != Some(guessed) {
        return Err(ImageError::UnknownFormat);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(refused)?;
    let orientation = decoder.orientation().map_err(refused)?;
    // `into_decoder` checks the dimensions only (and hands `max_alloc` to the PNG decoder
    // for its own buffers); the pixel buffer, and the copy that turning makes, are checked
    // here before they are allocated, as `ImageReader::decode` does.
    let copies = match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => 2,
        _ => 1,
    };
    limits
        .reserve(decoder.total_bytes().saturating_mul(copies))
        .map_err(refused)?;
    let mut pixels = DynamicImage::from_decoder(decoder).map_err(refused)?;
    pixels.apply_orientation(orientation);

    let format = stored_format(info.format);
    let mut out = Vec::new();
    let written = match format {
        ImageFormat::Jpeg => {
            // The JPEG encoder takes grey or RGB; a JPEG decodes to one of them anyway.
            if !matches!(
                pixels,
                DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_)
            ) {
                pixels = DynamicImage::ImageRgb8(pixels.to_rgb8());
            }
            pixels.write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))
        }
        ImageFormat::Png | ImageFormat::WebP => {
            pixels.write_with_encoder(PngEncoder::new(&mut out))
        }
    };
    written.map_err(|_| ImageError::Unwritable)?;
    Ok(Reencoded {
        format,
        width: pixels.width(),
        height: pixels.height(),
        bytes: out,
    })
}

/// Why the decoder refused an upload, in the terms of [`detect`].
fn refused(err: ::image::ImageError) -> ImageError {
    match err {
        ::image::ImageError::Limits(limit) => match limit.kind() {
            LimitErrorKind::DimensionError => ImageError::TooLarge,
            _ => ImageError::TooManyPixels,
        },
        _ => ImageError::Corrupt,
    }
}

#[cfg(test)]
mod tests;
